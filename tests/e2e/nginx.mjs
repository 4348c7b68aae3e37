// nginx (config generated from etc/nginx/modeld.conf) in front of two modeld
// instances: answers through nginx equal direct ones byte for byte and both
// instances serve; the demo chat model's SSE stream arrives through nginx
// event by event (a control server block that holds the stream back shows
// the measurement tells the two apart); a SIGTERM-draining instance's 503 is
// retried on the other one, so clients only see 200s.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import * as t from "./lib.mjs";

t.need();
const NGINX = process.env.NGINX;
if (!NGINX) t.skip("nginx not found (apt-get install nginx-light)");

const models = (dir) => ({
	regression: { path: path.join(t.srcdir, "models/regression.gguf"), max_batch_size: 8 },
	chat: { path: path.join(t.srcdir, "models/chat.gguf"), parallel: 1, max_queue: 64,
		ctx_size: 256 },
});
// a's drain (part 3) finishes its queued generations of 250 tokens one
// after the other (about 4 s of them, at least 12): some 30 s on a
// sanitizer build of a busy machine, so past the default drain_timeout_s,
// which would cut the last ones
const a = await t.start(t.tmpdir(), { drain_timeout_s: 300 }, models());
const b = await t.start(t.tmpdir(), {}, models());
const ndir = t.tmpdir();
fs.chmodSync(ndir, 0o755); // nginx's workers may run as another user

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer().listen(0, "127.0.0.1", () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
		s.on("error", reject);
	});
}

// The shipped example with our ports: upstream servers -> the two instances,
// listen -> a free loopback port; plus a control copy of its server block
// that holds the stream back (buffering on, modeld's X-Accel-Buffering
// ignored, and gzip, which compresses into full buffers unless flushed).
function nginxConf(port, ctlPort) {
	const shipped = fs.readFileSync(path.join(t.srcdir, "etc/nginx/modeld.conf"), "utf8");
	const ups = shipped.match(/^\tserver 127\.0\.0\.1:\d+ .*;$/gm) || [];
	t.checkEq(ups.length, 2, "upstream server lines in etc/nginx/modeld.conf");
	let i = 0;
	let conf = shipped.replace(/^\tserver 127\.0\.0\.1:\d+ /gm,
		() => `\tserver 127.0.0.1:${[a.port, b.port][i++]} `);
	t.check(/^\tlisten 80;$/m.test(conf), "listen line in etc/nginx/modeld.conf");
	t.check(/^\t\tproxy_buffering off;$/m.test(conf), "proxy_buffering off in the example");
	conf = conf.replace(/^\tlisten 80;$/m, `\tlisten 127.0.0.1:${port};`);
	const block = conf.slice(conf.search(/^server \{$/m));
	const control = block.replace(`listen 127.0.0.1:${port};`, `listen 127.0.0.1:${ctlPort};`)
		.replace("proxy_buffering off;",
			"proxy_buffering on;\n\t\tproxy_ignore_headers X-Accel-Buffering;\n" +
			"\t\tgzip on;\n\t\tgzip_types text/event-stream;\n\t\tgzip_min_length 0;");
	const tmp = (n) => `${n}_temp_path ${ndir}/${n}_temp;`;
	return `daemon off;
worker_processes 1;
pid ${ndir}/nginx.pid;
error_log ${ndir}/error.log info;
${process.getuid && process.getuid() === 0 ? "user root;" : ""}
events { worker_connections 512; }
http {
	log_format up '$request_uri $status "$upstream_addr" "$upstream_status"';
	access_log ${ndir}/access.log up;
	${tmp("client_body")} ${tmp("proxy")} ${tmp("fastcgi")} ${tmp("uwsgi")} ${tmp("scgi")}
${conf}
# control: holds streams back
${control}
}
`;
}

// Start nginx on free ports (retried when a port was taken meanwhile).
async function startNginx() {
	for (let attempt = 0; attempt < 3; attempt++) {
		const port = await freePort(), ctlPort = await freePort();
		const conf = path.join(ndir, "nginx.conf");
		fs.writeFileSync(conf, nginxConf(port, ctlPort));
		const child = spawn(NGINX, ["-p", ndir, "-c", conf, "-e", path.join(ndir, "error.log")],
			{ stdio: ["ignore", "ignore", "pipe"] });
		let err = "", exited = false;
		child.stderr.on("data", (d) => (err += d));
		child.on("exit", () => (exited = true));
		process.on("exit", () => exited || child.kill("SIGKILL"));
		for (let i = 0; i < 200 && !exited; i++) {
			try {
				const r = await fetch(`http://127.0.0.1:${port}/healthz`);
				if (r.status === 200)
					return { child, base: `http://127.0.0.1:${port}`,
						ctl: `http://127.0.0.1:${ctlPort}` };
			} catch {}
			await t.sleep(25);
		}
		const log = fs.existsSync(path.join(ndir, "error.log"))
			? fs.readFileSync(path.join(ndir, "error.log"), "utf8") : "";
		if (!/Address already in use/.test(err + log))
			throw new Error(`nginx did not start: ${err}${log}`);
		child.kill("SIGKILL");
	}
	throw new Error("nginx: no free port");
}
const ngx = await startNginx();
const via = (base) => ({ base });

const ROW = [59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87];
const bodies = [
	["/v1/predict", { model: "regression", inputs: [ROW] }],
	["/v1/models/regression:predict", t.readJSON("models/demo/regression.request.json")],
	["/v2/models/regression/infer",
		{ inputs: [{ name: "x", shape: [1, 10], datatype: "FP32", data: ROW }] }],
];

// 1. the same bytes through nginx as directly, spread over both instances
for (const [p, body] of bodies) {
	const direct = await t.http(a, "POST", p, body);
	t.checkEq(direct.status, 200, `direct ${p}`);
	for (let k = 0; k < 4; k++) {
		const r = await t.http(via(ngx.base), "POST", p, body);
		t.check(r.status === 200 && r.text === direct.text,
			`${p} through nginx: ${r.status} ${r.text} vs ${direct.text}`);
		t.checkEq(r.headers.get("content-type"), "application/json", `${p} content type`);
	}
}
const offline = t.predictOffline(ndir, path.join(t.srcdir, "models/regression.gguf"),
	{ inputs: [ROW] });
const v1 = await t.http(via(ngx.base), "POST", "/v1/predict", bodies[0][1]);
t.check(t.close(v1.json && v1.json.outputs, offline.outputs, 0),
	`nginx answer = modelctl predict: ${v1.text}`);
const served = async (srv) => {
	const m = await t.http(srv, "GET", "/metrics");
	const hits = [...m.text.matchAll(/^modeld_requests_total\{model="regression",status="200"\} (\d+)$/gm)];
	return hits.length ? Number(hits[0][1]) : 0;
};
const [na, nb] = [await served(a), await served(b)];
t.check(na > 3 && nb > 0, `both instances served through nginx (a: ${na - 3}, b: ${nb})`);

// 2. SSE through nginx: arrival time and size of every read of the stream
async function stream(base, body) {
	const t0 = performance.now();
	const r = await fetch(base + "/v1/chat/completions", {
		method: "POST",
		headers: { "content-type": "application/json", "accept-encoding": "gzip" },
		body: JSON.stringify({ ...body, stream: true }),
	});
	const reads = [];
	let text = "";
	const dec = new TextDecoder();
	for await (const chunk of r.body) {
		reads.push({ ms: performance.now() - t0, bytes: chunk.length });
		text += dec.decode(chunk, { stream: true });
	}
	const events = text.split("\n\n").filter((e) => e.startsWith("data: "));
	return { status: r.status, ctype: r.headers.get("content-type"), reads, events, text };
}
// incremental: many separate reads, the first one early and well short of
// the 16 KiB a buffering nginx fills first (on a busy machine the reader
// can wake after several events: 1217 B once)
function incremental(s) {
	const last = s.reads[s.reads.length - 1].ms;
	return s.reads.length >= s.events.length / 4 && s.reads[0].bytes < 4096 &&
		s.reads[0].ms < last / 2;
}
const describe = (s) => `${s.events.length} events in ${s.reads.length} reads, first ` +
	`${s.reads[0].bytes} B at ${s.reads[0].ms.toFixed(1)} ms, last at ` +
	`${s.reads[s.reads.length - 1].ms.toFixed(1)} ms`;
// sampled at a high temperature: long answers (the model stops early greedily)
const story = (seed) => ({ model: "chat", temperature: 1.5, seed, max_tokens: 250,
	messages: [{ role: "user", content: "Tell me a long story." }] });
let sse = null;
for (let seed = 1; seed <= 8; seed++) { // a sample long enough to tell (>= 50 events)
	const s = await stream(ngx.base, story(seed));
	if (!sse || s.events.length > sse.events.length) sse = { ...s, seed };
	if (s.events.length >= 50) break;
}
t.checkEq([sse.status, sse.ctype], [200, "text/event-stream"], "SSE status and type");
t.check(sse.events.length >= 50, `a long enough stream: ${describe(sse)}`);
t.checkEq(sse.events[sse.events.length - 1], "data: [DONE]", "stream ends with [DONE]");
t.check(incremental(sse), `SSE through nginx arrives incrementally: ${describe(sse)}`);
console.log(`SSE through nginx: ${describe(sse)}`);
// greedy decoding: the same text through nginx as directly, streamed or not
const greedy = { model: "chat", temperature: 0, max_tokens: 64,
	messages: [{ role: "user", content: "Tell me a fortune." }] };
const content = (st) => st.events.slice(0, -1).map((e) => JSON.parse(e.slice(6)))
	.map((c) => (c.choices[0] && c.choices[0].delta.content) || "").join("");
const g1 = await stream(ngx.base, greedy), g2 = await stream(a.base, greedy);
const whole = await t.http(via(ngx.base), "POST", "/v1/chat/completions", greedy);
t.checkEq(content(g1), content(g2), "greedy stream through nginx = direct");
t.checkEq(content(g1), whole.json && whole.json.choices[0].message.content,
	"greedy stream = the non-streamed answer");
t.check(content(g1).length > 10, `greedy text: ${JSON.stringify(content(g1))}`);
const ctl = await stream(ngx.ctl, story(sse.seed));
t.check(ctl.status === 200 && !incremental(ctl),
	`control (a buffering nginx) is told apart: ${describe(ctl)}`);
console.log(`SSE through a buffering nginx: ${describe(ctl)}`);

// 3. drain: a's queue holds long generations, so it drains for a while;
// meanwhile every request through nginx is answered 200 (503s retried on b).
// How many: as many as take a about 4 s, timed on one (12 of them took
// under a second on a fast build once the decoder got faster, and a had
// exited before the requests below were sent)
for (let k = 0; k < 6; k++) await t.http(via(ngx.base), "POST", "/v1/predict", bodies[0][1]);
const gen = (k) => t.http(a, "POST", "/v1/completions",
	{ model: "chat", prompt: "Once upon a time", temperature: 1.5, seed: k, max_tokens: 250 });
const t0 = Date.now();
t.checkEq((await gen(99)).status, 200, "a timed generation");
const nGens = Math.min(60, Math.max(12, Math.ceil(4000 / Math.max(1, Date.now() - t0))));
console.log(`drain: ${nGens} generations queued on a (one took ${Date.now() - t0} ms)`);
const gens = [];
for (let k = 0; k < nGens; k++) gens.push(gen(k));
await t.sleep(30);
const accessBefore = fs.readFileSync(path.join(ndir, "access.log"), "utf8").length;
a.child.kill("SIGTERM");
for (let i = 0; i < 400 && !/draining/.test(a.stderr); i++) await t.sleep(5);
t.check(/draining/.test(a.stderr), "a drains after SIGTERM");
let ok = 0, bad = [];
for (let k = 0; k < 20; k++) {
	const rs = await Promise.all([0, 1].map(() =>
		t.http(via(ngx.base), "POST", "/v1/predict", bodies[0][1])));
	for (const r of rs)
		if (r.status === 200 && r.text === v1.text) ok++;
		else bad.push(`${r.status} ${r.text}`);
}
t.check(bad.length === 0, `during a's drain every answer through nginx is right: ${bad}`);
t.check(a.exitCode === null, "a was still draining while they were sent");
const log = fs.readFileSync(path.join(ndir, "access.log"), "utf8").slice(accessBefore);
const retried = log.split("\n").filter((l) =>
	new RegExp(`"127\\.0\\.0\\.1:${a.port}, 127\\.0\\.0\\.1:${b.port}" "503, 200"`).test(l));
t.check(retried.length >= 1, `a 503 of the draining instance retried on the other:\n${log}`);
console.log(`drain: ${ok} answers through nginx, ${retried.length} after a 503 from a`);
const done = await Promise.all(gens);
t.checkEq(done.map((r) => r.status), done.map(() => 200), "a finished its queued generations");
t.checkEq(await a.exited, 0, "a exits 0 after the drain");

ngx.child.kill("SIGQUIT");
await b.stop();
t.finish();
