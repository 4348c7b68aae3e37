// The request log never stops serving: an unwritable database path, and a
// database locked by another process, both leave every request answered and
// the lost rows counted in /metrics. A database of an earlier version gains
// the newer column.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import * as t from "./lib.mjs";

t.need();
const dir = t.tmpdir();
const reg = t.convert(dir, "models/demo/regression.onnx", "regression");
const req = t.readJSON("models/demo/regression.request.json");
const want = t.predictOffline(dir, reg, req).outputs;
const burst = async (srv, n) => {
	const res = await Promise.all(Array.from({ length: n }, () =>
		t.http(srv, "POST", "/v1/predict", { model: "regression", ...req })));
	return res.filter((r) => r.status === 200 && t.close(r.json.outputs, want, 1e-6)).length;
};
const metric = async (srv, name) =>
	Number(new RegExp(`${name} (\\d+)`).exec((await t.http(srv, "GET", "/metrics")).text)[1]);

// a path under a regular file can never be created
fs.writeFileSync(path.join(dir, "file"), "x");
let srv = await t.start(dir, { log_db: path.join(dir, "file", "requests.db") },
	{ regression: { path: reg } });
t.checkEq(await burst(srv, 50), 50, "served with an unwritable database");
await t.sleep(300);
t.check(await metric(srv, "modeld_log_rows_dropped_total") >= 50, "lost rows counted");
t.check(/request log/.test(srv.stderr), "the log problem is reported");
t.checkEq(await srv.stop(), 0, "exit status");

// another process holds an exclusive lock for two seconds
const dir2 = t.tmpdir();
srv = await t.start(dir2, { log_queue: 64 }, { regression: { path: reg } });
t.checkEq(await burst(srv, 10), 10, "served before the lock");
await t.sleep(400);
const locker = spawn("sqlite3", [srv.db], { stdio: ["pipe", "ignore", "ignore"] });
locker.stdin.write("BEGIN EXCLUSIVE; INSERT INTO requests DEFAULT VALUES;\n");
await t.sleep(200);
const t0 = Date.now();
let served = 0;
for (let i = 0; i < 10; i++) served += await burst(srv, 30);
t.checkEq(served, 300, "served while the database is locked");
t.check(Date.now() - t0 < 5000, `locked database does not slow serving (${Date.now() - t0} ms)`);
locker.stdin.end("ROLLBACK;\n");
await new Promise((r) => locker.on("exit", r));
await t.sleep(600);
const written = await metric(srv, "modeld_log_rows_written_total");
const dropped = await metric(srv, "modeld_log_rows_dropped_total");
t.check(dropped > 0, `rows lost to the lock are counted (${dropped})`);
t.check(written + dropped >= 310, `every row written or counted (${written} + ${dropped})`);
t.checkEq(await burst(srv, 10), 10, "served after the lock");
t.checkEq(await srv.stop(), 0, "exit status");

// a database written by an earlier version (no cached_tokens column) gains
// the column, keeps its rows, and logs new ones
const dir3 = t.tmpdir(), old = path.join(dir3, "old.db");
t.sql(old, "CREATE TABLE requests (id INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, model TEXT, " +
	"endpoint TEXT, status INTEGER, latency_ms REAL, queue_ms REAL, infer_ms REAL, batch_size INTEGER, " +
	"instances INTEGER, bytes_in INTEGER, bytes_out INTEGER, client TEXT, error TEXT, " +
	"prompt_tokens INTEGER, completion_tokens INTEGER, ttft_ms REAL, finish_reason TEXT); " +
	`INSERT INTO requests (time_us, model, status) VALUES (${Date.now() * 1000}, 'earlier', 200);`);
srv = await t.start(dir3, { log_db: old }, { regression: { path: reg } });
t.checkEq(await burst(srv, 5), 5, "served with an earlier database");
t.checkEq(await srv.stop(), 0, "exit status");
t.checkEq(t.sql(old, "SELECT model, status, cached_tokens FROM requests WHERE model != '' ORDER BY id"),
	[["earlier", "200", ""], ...Array(5).fill(["regression", "200", "0"])],
	"the earlier database gained cached_tokens and the new rows");
t.finish();
