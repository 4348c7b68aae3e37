// Shared by the end-to-end tests: start the real modeld on a free loopback
// port from a generated config with a temporary database, talk to it, check
// values, and always kill it at the end.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const srcdir = process.env.top_srcdir || ".";
export const builddir = process.env.top_builddir || ".";
export const MODELD = path.resolve(builddir, "server/modeld");
export const MODELCTL = path.resolve(builddir, "models/modelctl");

let failures = 0;
let checks = 0;
const children = new Set();
const dirs = [];

export function check(cond, what) {
	checks++;
	if (!cond) {
		failures++;
		console.error(`FAIL: ${what}`);
	}
}

export function checkEq(got, want, what) {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	check(g === w, `${what}: got ${g}, want ${w}`);
}

// Numbers in a and b (same nesting) agree to a relative tolerance.
export function close(a, b, tol = 1e-5) {
	if (Array.isArray(a) || Array.isArray(b)) {
		if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
		return a.every((x, i) => close(x, b[i], tol));
	}
	if (typeof a === "object" && a && b && typeof b === "object") {
		const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
		return JSON.stringify(ka) === JSON.stringify(kb) && ka.every((k) => close(a[k], b[k], tol));
	}
	if (typeof a === "number" && typeof b === "number")
		return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
	return a === b;
}

export function finish() {
	console.log(`${checks - failures}/${checks} checks passed`);
	process.exit(failures ? 1 : 0);
}

export function skip(why) {
	console.log(`SKIP: ${why}`);
	process.exit(77);
}

process.on("exit", () => {
	for (const c of children) c.kill("SIGKILL");
	if (!process.env.KEEP_E2E) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(1));

export function tmpdir() {
	const d = fs.mkdtempSync(path.join(os.tmpdir(), "modeld-e2e-"));
	dirs.push(d);
	return d;
}

export function need() {
	if (!fs.existsSync(MODELD)) skip(`${MODELD} not built`);
	if (!fs.existsSync(MODELCTL)) skip(`${MODELCTL} not built`);
}

// Convert an ONNX file of the tree into dir; returns the GGUF path.
export function convert(dir, onnxRel, name, quant = "f32") {
	const out = path.join(dir, `${name}.${quant}.gguf`);
	execFileSync(MODELCTL, ["convert", path.join(srcdir, onnxRel), out, "--quant", quant], {
		stdio: ["ignore", "ignore", "inherit"],
	});
	return out;
}

// `modelctl predict` on a request body (object); returns the parsed answer.
export function predictOffline(dir, gguf, body) {
	const req = path.join(dir, `req-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
	fs.writeFileSync(req, JSON.stringify(body));
	const out = execFileSync(MODELCTL, ["predict", gguf, req], { encoding: "utf8" });
	return JSON.parse(out);
}

export function readJSON(rel) {
	return JSON.parse(fs.readFileSync(path.join(srcdir, rel), "utf8"));
}

// SQL on the request log through the sqlite3 CLI; rows as arrays of strings.
export function sql(db, query) {
	const out = execFileSync("sqlite3", ["-separator", "|", db, query], { encoding: "utf8" });
	return out.trim() === "" ? [] : out.trim().split("\n").map((l) => l.split("|"));
}

// Config text: globals object, models {name: {path, ...}}.
export function configText(globals, models) {
	let s = "";
	for (const [k, v] of Object.entries(globals)) s += `${k} = ${v}\n`;
	for (const [name, m] of Object.entries(models)) {
		s += `\n[model ${name}]\n`;
		for (const [k, v] of Object.entries(m)) s += `${k} = ${v}\n`;
	}
	return s;
}

// Start modeld; resolves once /readyz answers 200.
export async function start(dir, globals, models, { waitReady = true } = {}) {
	const conf = path.join(dir, "modeld.conf");
	const db = path.join(dir, "requests.db");
	fs.writeFileSync(
		conf,
		configText({ listen: "127.0.0.1:0", log_db: db, workers: 2, metrics_interval_s: 1, ...globals },
			models),
	);
	const child = spawn(MODELD, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
	children.add(child);
	const srv = { child, conf, db, dir, stderr: "", port: 0, exitCode: null };
	srv.exited = new Promise((resolve) =>
		child.on("exit", (code, sig) => {
			children.delete(child);
			srv.exitCode = code === null ? `signal ${sig}` : code;
			resolve(srv.exitCode);
		}),
	);
	child.stderr.setEncoding("utf8");
	child.stderr.on("data", (d) => {
		srv.stderr += d;
		if (process.env.E2E_VERBOSE) process.stderr.write(d);
	});
	const t0 = Date.now();
	while (!srv.port) {
		const m = /listening on [^\n]*:(\d+)\n/.exec(srv.stderr);
		if (m) srv.port = Number(m[1]);
		else if (srv.exitCode !== null || Date.now() - t0 > 10000)
			throw new Error(`modeld did not start: ${srv.stderr}`);
		else await sleep(20);
	}
	srv.base = `http://127.0.0.1:${srv.port}`;
	while (waitReady) {
		try {
			const r = await fetch(srv.base + "/readyz");
			if (r.status === 200) break;
		} catch {}
		if (srv.exitCode !== null || Date.now() - t0 > 20000)
			throw new Error(`modeld not ready: ${srv.stderr}`);
		await sleep(20);
	}
	srv.stop = async (sig = "SIGTERM") => {
		if (srv.exitCode === null) child.kill(sig);
		return srv.exited;
	};
	return srv;
}

export function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

// One HTTP exchange: {status, headers, text, json}.
export async function http(srv, method, p, body, headers = {}) {
	const init = { method, headers: { ...headers } };
	if (body !== undefined) {
		init.body = typeof body === "string" ? body : JSON.stringify(body);
		init.headers["content-type"] = "application/json";
	}
	const r = await fetch(srv.base + p, init);
	const text = await r.text();
	let json;
	try {
		json = JSON.parse(text);
	} catch {}
	return { status: r.status, headers: r.headers, text, json };
}
