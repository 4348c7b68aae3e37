// Process life under load: SIGHUP with a replaced model file while clients
// send (no failed request, new answers after), SIGTERM while clients send
// (exit 0, one log row for every answered request).
import fs from "node:fs";
import path from "node:path";
import * as t from "./lib.mjs";

t.need();
const dir = t.tmpdir();
const a = t.convert(dir, "models/demo/regression.onnx", "regression", "f32");
const b = t.convert(dir, "models/demo/regression.onnx", "regression", "q4_0");
const req = t.readJSON("models/demo/regression.request.json");
const wantA = t.predictOffline(dir, a, req).outputs;
const wantB = t.predictOffline(dir, b, req).outputs;
t.check(!t.close(wantA, wantB, 1e-6), "the two model files answer differently");
const live = path.join(dir, "live.gguf");
fs.copyFileSync(a, live);

let srv = await t.start(dir, {}, { regression: { path: live, max_batch_size: 8 } });
let stop = false, n = 0, failed = 0, sawB = 0;
async function client() {
	while (!stop) {
		const r = await t.http(srv, "POST", "/v1/predict", { model: "regression", ...req });
		n++;
		if (r.status !== 200 || !(t.close(r.json.outputs, wantA, 1e-6) ||
			t.close(r.json.outputs, wantB, 1e-6))) {
			if (failed++ < 5) console.error(`during reload: ${r.status} ${r.text}`);
		} else if (t.close(r.json.outputs, wantB, 1e-6)) sawB++;
	}
}
const clients = Array.from({ length: 16 }, client);
await t.sleep(300);
fs.copyFileSync(b, live + ".new");
fs.renameSync(live + ".new", live);
srv.child.kill("SIGHUP");
const t0 = Date.now();
while (!/reloaded 1 model/.test(srv.stderr) && Date.now() - t0 < 10000) await t.sleep(10);
t.check(/reloaded 1 model/.test(srv.stderr), "reload finished");
await t.sleep(300);
stop = true;
await Promise.all(clients);
t.checkEq(failed, 0, `failed requests during reload (of ${n})`);
t.check(sawB > 0, `answers from the new file after reload (${sawB})`);
let r = await t.http(srv, "POST", "/v1/predict", { model: "regression", ...req });
t.check(t.close(r.json.outputs, wantB, 1e-6), "new answers after reload");
r = await t.http(srv, "GET", "/v1/models/regression");
t.checkEq(r.json.version, 2, "model version after one reload");
t.checkEq(await srv.stop(), 0, "exit status");

// SIGTERM while 32 clients send
const dir2 = t.tmpdir();
srv = await t.start(dir2, {}, { regression: { path: a, max_batch_size: 16 } });
let answered = 0, ok = 0, refused = 0;
stop = false;
async function sender() {
	while (!stop) {
		try {
			const r = await t.http(srv, "POST", "/v1/predict", { model: "regression", ...req });
			answered++;
			if (r.status === 200 && t.close(r.json.outputs, wantA, 1e-6)) ok++;
			else if (r.status === 503) refused++;
		} catch {
			await t.sleep(5); /* connection refused once the listener is closed */
		}
	}
}
const senders = Array.from({ length: 32 }, sender);
await t.sleep(400);
srv.child.kill("SIGTERM");
const code = await srv.exited;
stop = true;
await Promise.all(senders);
t.checkEq(code, 0, "exit status of a drain under load");
t.checkEq(ok + refused, answered, "answers are right or a clean 503");
t.check(answered >= 16, `requests answered before the drain (${answered})`);
const rows = Number(t.sql(srv.db,
	"select count(*) from requests where endpoint = '/v1/predict'")[0][0]);
if (rows !== answered)
	console.error(JSON.stringify({ ok, refused, answered,
		log: t.sql(srv.db, "select status, error, count(*) from requests group by 1, 2") }));
t.checkEq(rows, answered, "one log row for every answered request");
t.finish();
