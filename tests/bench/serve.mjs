// Shared by the HTTP benchmarks: start modeld on a free loopback port with
// a configuration text (a temporary file), wait until it is ready, and kill
// it and remove the file when the process exits. Returns the base URL and
// the child process.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export async function startModeld(modeld, confText) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "modeld-bench-"));
	const conf = path.join(dir, "modeld.conf");
	fs.writeFileSync(conf, "listen = 127.0.0.1:0\n" + confText);
	const child = spawn(modeld, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
	let err = "";
	child.stderr.on("data", (d) => (err += d));
	process.on("exit", () => { child.kill("SIGKILL"); fs.rmSync(dir, { recursive: true, force: true }); });
	let port = 0;
	for (let i = 0; i < 600 && !port; i++) {
		const m = /listening on [^\n]*:(\d+)\n/.exec(err);
		if (m) port = Number(m[1]);
		else await new Promise((r) => setTimeout(r, 50));
	}
	if (!port) throw new Error(`modeld did not start: ${err}`);
	const base = `http://127.0.0.1:${port}`;
	while ((await fetch(base + "/readyz").catch(() => ({ status: 0 }))).status !== 200)
		await new Promise((r) => setTimeout(r, 50));
	return { base, child };
}
