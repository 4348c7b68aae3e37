// Every endpoint with asserted bodies, answers equal to `modelctl predict`,
// and the client errors (bad JSON, wrong shape, unknown model or route, wrong
// method, oversized body, wrong API key) each with its status while the
// daemon keeps serving.
import * as t from "./lib.mjs";

t.need();
const dir = t.tmpdir();
const reg = t.convert(dir, "models/demo/regression.onnx", "regression");
const dig = t.convert(dir, "models/demo/digits.onnx", "digits");
const regReq = t.readJSON("models/demo/regression.request.json");
const digReq = t.readJSON("models/demo/digits.request.json");
const KEY = "s3cret-key";
const srv = await t.start(dir, { api_key: KEY, max_body_bytes: 65536 }, {
	regression: { path: reg, max_batch_size: 16, max_batch_delay_us: 500 },
	digits: { path: dig, max_batch_size: 16, max_batch_delay_us: 500 },
});
const auth = { authorization: `Bearer ${KEY}` };
const get = (p, h = auth) => t.http(srv, "GET", p, undefined, h);
const post = (p, b, h = auth) => t.http(srv, "POST", p, b, h);

// health and readiness need no key
let r = await get("/healthz", {});
t.checkEq([r.status, r.json], [200, { status: "ok" }], "/healthz");
r = await get("/readyz", {});
t.checkEq([r.status, r.json], [200, { status: "ready" }], "/readyz");
r = await get("/health", {});
t.checkEq([r.status, r.json], [200, { status: "ready" }], "/health (llama.cpp's and vLLM's name) is /readyz");
r = await get("/v2/health/live", {});
t.checkEq([r.status, r.json], [200, { live: true }], "/v2/health/live");
r = await get("/v2/health/ready", {});
t.checkEq([r.status, r.json], [200, { ready: true }], "/v2/health/ready");
t.check(r.headers.get("content-type") === "application/json", "JSON content type");

// model descriptions
r = await get("/v1/models");
t.checkEq(r.status, 200, "/v1/models status");
t.checkEq(r.json.models.map((m) => m.name).sort(), ["digits", "regression"], "/v1/models names");
r = await get("/v1/models/regression");
t.checkEq([r.json.name, r.json.kind, r.json.inputs, r.json.outputs],
	["regression", "graph", [{ name: "x", dtype: "float32", shape: [-1, 10] }],
		[{ name: "y", dtype: "float32", shape: [-1, 1] }]], "/v1/models/regression");
t.check(r.json.file_size > 1000 && /f32/.test(r.json.tensor_types), "file size and tensor types");
r = await get("/v2/models/digits");
t.checkEq([r.json.name, r.json.inputs, r.json.outputs],
	["digits", [{ name: "image", datatype: "FP32", shape: [-1, 1, 8, 8] }],
		[{ name: "probs", datatype: "FP32", shape: [-1, 10] }]], "/v2/models/digits");
r = await get("/v2/models/digits/ready", {});
t.checkEq([r.status, r.json], [200, { name: "digits", ready: true }], "/v2/models/digits/ready");

// predictions equal modelctl predict on the same body
const wantReg = t.predictOffline(dir, reg, regReq);
const wantDig = t.predictOffline(dir, dig, digReq);
r = await post("/v1/predict", { model: "regression", ...regReq });
t.checkEq(r.status, 200, "/v1/predict regression status");
t.check(t.close(r.json.outputs, wantReg.outputs, 1e-6), `/v1/predict regression ${r.text}`);
t.checkEq(r.json.model, "regression", "answer names the model");
r = await post("/v1/predict", { model: "digits", ...digReq });
t.check(t.close(r.json.outputs, wantDig.outputs, 1e-6), `/v1/predict digits ${r.text}`);
t.checkEq(r.json.outputs.map((p) => p.indexOf(Math.max(...p))), [5, 0, 9, 9], "digits classes");
r = await post("/v1/models/regression:predict", { instances: regReq.inputs });
t.check(r.status === 200 && t.close(r.json.predictions, wantReg.outputs, 1e-6),
	`v1 model:predict ${r.text}`);
const flat = regReq.inputs.flat();
r = await post("/v2/models/regression/infer", {
	id: "req-7",
	inputs: [{ name: "x", shape: [regReq.inputs.length, 10], datatype: "FP32", data: flat }],
});
t.checkEq([r.status, r.json.model_name, r.json.id, r.json.outputs[0].name, r.json.outputs[0].shape,
	r.json.outputs[0].datatype], [200, "regression", "req-7", "y", [regReq.inputs.length, 1], "FP32"],
	"v2 infer envelope");
t.check(t.close(r.json.outputs[0].data, wantReg.outputs.flat(), 1e-6), "v2 infer values");
r = await post("/v2/models/regression/infer", {
	inputs: [{ name: "x", shape: [regReq.inputs.length, 10], datatype: "FP32", data: regReq.inputs }],
});
t.check(r.status === 200 && t.close(r.json.outputs[0].data, wantReg.outputs.flat(), 1e-6),
	"v2 infer nested data");

// client errors
const err = async (what, p, body, status, code, h = auth, method = "POST") => {
	const res = await t.http(srv, method, p, body, h);
	t.checkEq([res.status, res.json && res.json.error && res.json.error.code], [status, code], what);
	t.check(res.json && typeof res.json.error.message === "string", `${what}: message`);
	return res;
};
await err("bad JSON", "/v1/predict", "{\"model\": ", 400, "invalid_json");
await err("not an object", "/v1/predict", "[1,2]", 400, "invalid_request");
r = await err("wrong shape", "/v1/predict", { model: "regression", inputs: [[1, 2, 3]] }, 400,
	"invalid_shape");
t.check(/expected \[\*,10\]/.test(r.json.error.message), `shape message: ${r.json.error.message}`);
await err("v2 wrong datatype", "/v2/models/regression/infer",
	{ inputs: [{ name: "x", shape: [1, 10], datatype: "INT64", data: Array(10).fill(1) }] }, 400,
	"invalid_dtype");
await err("v2 count mismatch", "/v2/models/regression/infer",
	{ inputs: [{ name: "x", shape: [2, 10], datatype: "FP32", data: Array(10).fill(1) }] }, 400,
	"invalid_shape");
await err("v2 missing input", "/v2/models/regression/infer", { inputs: [] }, 400, "missing_input");
await err("unknown model", "/v1/predict", { model: "nope", inputs: [[1]] }, 404, "model_not_found");
await err("unknown model v2", "/v2/models/nope/infer", { inputs: [] }, 404, "model_not_found");
await err("unknown model GET", "/v1/models/nope", undefined, 404, "model_not_found", auth, "GET");
await err("unknown route", "/v3/anything", undefined, 404, "not_found", auth, "GET");
r = await err("wrong method", "/v1/predict", undefined, 405, "method_not_allowed", auth, "GET");
t.checkEq(r.headers.get("allow"), "POST", "Allow header");
await err("completions", "/v1/completions", { model: "llama", prompt: "hi" }, 404,
	"model_not_found");
await err("oversized body", "/v1/predict",
	{ model: "regression", inputs: Array(2000).fill(Array(10).fill(1.2345678)) }, 413,
	"body_too_large");
await err("missing key", "/v1/predict", { model: "regression", ...regReq }, 401, "unauthorized", {});
await err("wrong key", "/v1/models", undefined, 401, "unauthorized", { authorization: "Bearer nope" },
	"GET");
r = await get("/v1/models", { "x-api-key": KEY });
t.checkEq(r.status, 200, "X-API-Key accepted");

// a body far larger than the per-connection memory (8 KiB by default) streams
// through it; 3 KiB of headers fit
const many = Array(500).fill(regReq.inputs[0]);
r = await post("/v1/predict", { model: "regression", inputs: many },
	{ ...auth, "x-trace": "t".repeat(3000) });
t.check(r.status === 200 && r.json.outputs.length === 500 &&
	r.json.outputs.every((o) => t.close([o], [wantReg.outputs[0]], 1e-6)),
	`500 instances in a ${JSON.stringify({ inputs: many }).length}-byte body: ${r.status}`);

// still serving after all that
r = await post("/v1/predict", { model: "regression", ...regReq });
t.check(r.status === 200 && t.close(r.json.outputs, wantReg.outputs, 1e-6), "serving after errors");

// metrics
r = await get("/metrics");
t.check(r.status === 200 && /^text\/plain/.test(r.headers.get("content-type")), "metrics type");
for (const re of [/modeld_requests_total\{model="regression",status="200"\} [1-9]/,
	/modeld_requests_total\{model="regression",status="400"\} [1-9]/,
	/modeld_request_duration_seconds_bucket\{model="regression",le="\+Inf"\} [1-9]/,
	/modeld_queue_duration_seconds_count\{model="digits"\} [1-9]/,
	/modeld_inference_duration_seconds_sum\{model="digits"\}/,
	/modeld_batch_size_bucket\{model="regression",le="1"\}/, /modeld_queue_depth\{model="digits"\} 0/,
	/modeld_inflight_requests 1\n/, /modeld_models_loaded 2\n/, /modeld_log_rows_written_total \d+/,
	/modeld_log_rows_dropped_total 0\n/])
	t.check(re.test(r.text), `metrics has ${re}`);

const code = await srv.stop();
t.checkEq(code, 0, "exit status after SIGTERM");
const rows = t.sql(srv.db, "select count(*), sum(status = 401), sum(status = 413), " +
	"sum(endpoint = '/v2/models/{name}/infer') from requests");
t.check(Number(rows[0][0]) >= 30 && Number(rows[0][1]) === 2 && Number(rows[0][2]) === 1 &&
	Number(rows[0][3]) >= 5, `log rows ${JSON.stringify(rows)}`);
const clients = t.sql(srv.db, "select distinct client from requests");
t.checkEq(JSON.stringify(clients), JSON.stringify([["127.0.0.1"]]), "client address logged");
t.finish();
