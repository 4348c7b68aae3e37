// 64 concurrent clients get correct answers and are served in batches larger
// than one (seen in /metrics and in the SQLite log); a full queue answers 503
// with Retry-After while the rest are served.
import * as t from "./lib.mjs";

t.need();
const dir = t.tmpdir();
const reg = t.convert(dir, "models/demo/regression.onnx", "regression");
const dig = t.convert(dir, "models/demo/digits.onnx", "digits");

// distinct inputs, one per request; the reference answers them in one run
const CLIENTS = 64, PER_CLIENT = 12;
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const rows = Array.from({ length: CLIENTS * PER_CLIENT }, () =>
	Array.from({ length: 10 }, (_, j) => Math.round((rnd() * 2 - 1) * 100 * (j + 1)) / 1000));
const want = t.predictOffline(dir, reg, { inputs: rows }).outputs;

let srv = await t.start(dir, {}, { regression: { path: reg, max_batch_size: 32,
	max_batch_delay_us: 2000 } });
let bad = 0;
async function client(c) {
	for (let k = 0; k < PER_CLIENT; k++) {
		const i = c * PER_CLIENT + k;
		const r = await t.http(srv, "POST", "/v1/predict", { model: "regression", inputs: [rows[i]] });
		if (r.status !== 200 || !t.close(r.json.outputs, [want[i]], 1e-5)) {
			if (bad++ < 5) console.error(`request ${i}: ${r.status} ${r.text} want ${want[i]}`);
		}
	}
}
await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
t.checkEq(bad, 0, "wrong or failed answers among 64 concurrent clients");
let m = (await t.http(srv, "GET", "/metrics")).text;
const le1 = Number(/modeld_batch_size_bucket\{model="regression",le="1"\} (\d+)/.exec(m)[1]);
const all = Number(/modeld_batch_size_count\{model="regression"\} (\d+)/.exec(m)[1]);
t.checkEq(all, CLIENTS * PER_CLIENT, "batch-size histogram counts every prediction");
t.check(le1 < all, `some batches larger than one (${le1} of ${all} ran alone)`);
t.checkEq(await srv.stop(), 0, "exit status");
const log = t.sql(srv.db, "select count(*), max(batch_size), sum(status = 200) from requests " +
	"where endpoint = '/v1/predict'");
t.checkEq(Number(log[0][0]), CLIENTS * PER_CLIENT, "one log row per request");
t.check(Number(log[0][1]) > 1, `log shows batch_size > 1 (max ${log[0][1]})`);

// a queue of 2 requests, one worker, no batching: most of 64 at once are refused
const dir2 = t.tmpdir();
srv = await t.start(dir2, { workers: 1 }, { digits: { path: dig, max_batch_size: 1,
	max_batch_delay_us: 0, max_queue: 2 } });
const img = t.readJSON("models/demo/digits.request.json").inputs[0];
const wantDig = t.predictOffline(dir2, dig, { inputs: [img] }).outputs;
const res = await Promise.all(Array.from({ length: 64 }, () =>
	t.http(srv, "POST", "/v1/predict", { model: "digits", inputs: [img] })));
const full = res.filter((r) => r.status === 503);
const ok = res.filter((r) => r.status === 200);
t.check(full.length > 0, `queue full answers 503 (${full.length} of 64)`);
t.checkEq(ok.length + full.length, 64, "every request either served or refused");
t.check(full.every((r) => r.json.error.code === "queue_full" && r.headers.get("retry-after") === "1"),
	"503 carries queue_full and Retry-After");
t.check(ok.every((r) => t.close(r.json.outputs, wantDig, 1e-6)), "served answers are right");
const again = await t.http(srv, "POST", "/v1/predict", { model: "digits", inputs: [img] });
t.checkEq(again.status, 200, "serving after the burst");
t.checkEq(await srv.stop(), 0, "exit status");
t.finish();
