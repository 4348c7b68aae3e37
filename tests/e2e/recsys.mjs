// Retrieval through the daemon: the two-tower fixture converted with an
// exclusion input answers as `modelctl predict`; excluded ids leave the
// results; the optional input may be omitted; "k" cuts rows and k above the
// model's is a 400 naming both. Ranking: user and history sent once are
// broadcast to 200 candidates (PyTorch's scores); an id past its table is a
// 400 naming the input.
import { execFileSync } from "node:child_process";
import path from "node:path";
import * as t from "./lib.mjs";

t.need();
const dir = t.tmpdir();
const gguf = path.join(dir, "two_tower.gguf");
const ranker = path.join(dir, "ranking.gguf");
execFileSync(t.MODELCTL, ["convert", path.join(t.srcdir, "tests/fixtures/recsys/ranking.onnx"),
	ranker, "--pad", "hist_ids=0"], { stdio: ["ignore", "ignore", "inherit"] });
execFileSync(t.MODELCTL, ["convert", path.join(t.srcdir, "tests/fixtures/models/two_tower.onnx"),
	gguf, "--exclude-input", "seen"], { stdio: ["ignore", "ignore", "inherit"] });
const req = t.readJSON("tests/fixtures/models/two_tower.request.json");
const want = t.readJSON("tests/fixtures/models/two_tower.expected.json");
const srv = await t.start(dir, {}, {
	tt: { path: gguf, max_batch_size: 16, max_batch_delay_us: 500 },
	ranker: { path: ranker, max_batch_size: 64, max_batch_delay_us: 500 },
});
const post = (b) => t.http(srv, "POST", "/v1/predict", { model: "tt", ...b });

// omitted optional input: same ids and scores as PyTorch
let r = await post({ inputs: req.inputs });
t.checkEq(r.status, 200, "retrieval status");
t.checkEq(r.json.outputs.indices, want.outputs.indices, "ids equal PyTorch's");
t.check(t.close(r.json.outputs.scores, want.outputs.scores, 1e-4), "scores close to PyTorch's");
t.checkEq(r.json.outputs, t.predictOffline(dir, gguf, { inputs: req.inputs }).outputs,
	"daemon answers as modelctl predict");

// exclude each user's best id (ragged lists, padded with -1)
const users = req.inputs;
const best = want.outputs.indices.map((row) => row[0]);
const seen = users.map((_, i) => (i % 2 ? [best[i], 499] : [best[i]]));
r = await post({ inputs: { user: users, seen }, k: 3 });
t.checkEq(r.status, 200, "excluded status");
t.checkEq(r.json.outputs.indices, want.outputs.indices.map((row) => row.slice(1, 4)),
	"the best id excluded, the next three returned");

// k above the model's
r = await post({ inputs: { user: users }, k: 11 });
t.checkEq([r.status, r.json.error.code], [400, "out_of_range"], "k too large");
t.check(/\(11\).*k = 10/.test(r.json.error.message), `k message: ${r.json.error.message}`);
// ranking: 200 candidates in one request (more than max_batch_size)
const rreq = t.readJSON("tests/fixtures/recsys/ranking.request.json");
const rwant = t.readJSON("tests/fixtures/recsys/ranking.expected.json");
r = await t.http(srv, "POST", "/v1/predict", { model: "ranker", ...rreq });
t.checkEq(r.status, 200, "ranking status");
t.checkEq(r.json.outputs.length, 200, "one score per candidate");
t.check(t.close(r.json.outputs, rwant.outputs, 1e-4), "ranking scores close to PyTorch's");
const bad = { ...rreq.inputs, item_id: [3, 500] };
r = await t.http(srv, "POST", "/v1/predict", { model: "ranker", inputs: bad });
t.checkEq([r.status, r.json.error.code], [400, "out_of_range"], "item id past the table");
t.check(/input 'item_id': id 500 out of range \[0, 500\)/.test(r.json.error.message),
	`out-of-range message: ${r.json.error.message}`);
t.finish();
