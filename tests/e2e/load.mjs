// 64 concurrent clients get correct answers and are served in batches larger
// than one (seen in /metrics and in the SQLite log); a full queue answers 503
// with Retry-After while the rest are served. With inline_max_us, a cheap
// model answers one-at-a-time requests on the loop thread, and an expensive
// one never does.
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
// 256 images a request (a request's instances stay whole: each runs alone
// for milliseconds), so the queue fills even when the clients are slow
const burst = Array.from({ length: 256 }, () => img);
const wantBurst = burst.map(() => wantDig[0]);
const res = await Promise.all(Array.from({ length: 64 }, () =>
	t.http(srv, "POST", "/v1/predict", { model: "digits", inputs: burst })));
const full = res.filter((r) => r.status === 503);
const ok = res.filter((r) => r.status === 200);
t.check(full.length > 0, `queue full answers 503 (${full.length} of 64)`);
t.checkEq(ok.length + full.length, 64, "every request either served or refused");
t.check(full.every((r) => r.json.error.code === "queue_full" && r.headers.get("retry-after") === "1"),
	"503 carries queue_full and Retry-After");
t.check(ok.every((r) => t.close(r.json.outputs, wantBurst, 1e-6)), "served answers are right");
const again = await t.http(srv, "POST", "/v1/predict", { model: "digits", inputs: [img] });
t.checkEq(again.status, 200, "serving after the burst");
t.checkEq(await srv.stop(), 0, "exit status");

// inline_max_us: the regression MLP (a few us) runs inline once the workers
// have measured it; the digits CNN (tens of us) stays above 1 us
const dir3 = t.tmpdir();
srv = await t.start(dir3, {}, {
	regression: { path: reg, max_batch_size: 32, max_batch_delay_us: 2000, inline_max_us: 1000 },
	digits: { path: dig, max_batch_size: 32, max_batch_delay_us: 2000, inline_max_us: 1 } });
const SEQ = 40;
let seqBad = 0;
for (let i = 0; i < SEQ; i++) {
	const r = await t.http(srv, "POST", "/v1/predict", { model: "regression", inputs: [rows[i]] });
	if (r.status !== 200 || !t.close(r.json.outputs, [want[i]], 1e-5))
		if (seqBad++ < 5) console.error(`inline request ${i}: ${r.status} ${r.text}`);
	const d = await t.http(srv, "POST", "/v1/predict", { model: "digits", inputs: [img] });
	if (d.status !== 200 || !t.close(d.json.outputs, wantDig, 1e-6)) seqBad++;
}
t.checkEq(seqBad, 0, "answers with inline_max_us equal the offline ones");
const wrong = await t.http(srv, "POST", "/v1/predict", { model: "regression", inputs: [[1, 2]] });
t.checkEq(wrong.status, 400, "a wrong shape is still a 400");
m = (await t.http(srv, "GET", "/metrics")).text;
const inl = (name) => Number(new RegExp(`modeld_inline_predictions_total\\{model="${name}"\\} (\\d+)`)
	.exec(m)?.[1] ?? -1);
t.check(inl("regression") >= SEQ / 2, `regression ran inline (${inl("regression")} of ${SEQ})`);
t.checkEq(inl("digits"), 0, "digits, above its inline_max_us, never ran inline");
t.checkEq(await srv.stop(), 0, "exit status");
const rows3 = t.sql(srv.db, "select count(*), 0, max(batch_size) from requests " +
	"where model = 'regression' and status = 200");
t.checkEq(Number(rows3[0][0]), SEQ, "one log row per inline request");
t.checkEq(Number(rows3[0][2]), 1, "one-at-a-time requests ran alone");
t.finish();
