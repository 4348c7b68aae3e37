#!/bin/sh
# HTTP benchmark of retrieval (not a test): a random 1,000,000 x 64 catalog
# with TopK(100) converted at F32 and Q8_0, one user per request, wrk on
# loopback with 1 and 16 connections, dynamic batching up to 64 users.
# Usage: tests/bench/http/retrieval.sh [BUILDDIR]   (DURATION=10 by default)
# Prints a markdown table: users/s (= requests/s), p50 and p99 latency and
# the server's CPU time per request (user + system, from /proc).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../../.." && pwd)
builddir=$(cd "${1:-.}" && pwd)
duration=${DURATION:-10}
. "$here/lib.sh"

/usr/bin/python3 - "$work" <<'PY'
import json, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
work = sys.argv[1]
rng = np.random.default_rng(1)
cat_t = numpy_helper.from_array(
    (rng.random((64, 1000000), dtype=np.float32) - 0.5), "catalog_t")
k = numpy_helper.from_array(np.array([100], dtype=np.int64), "k")
nodes = [helper.make_node("MatMul", ["user", "catalog_t"], ["s"], name="scores"),
         helper.make_node("TopK", ["s", "k"], ["scores", "ids"], name="topk", axis=1)]
g = helper.make_graph(nodes, "knn", [helper.make_tensor_value_info("user", TensorProto.FLOAT, ["b", 64])],
                      [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["b", 100]),
                       helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", 100])],
                      [cat_t, k])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.save(m, work + "/knn.onnx")
user = np.round(rng.random(64) - 0.5, 4).tolist()
json.dump({"model": "knn", "inputs": [user]}, open(work + "/body.json", "w"))
PY
for q in f32 q8_0; do
	"$modelctl" convert "$work/knn.onnx" "$work/knn.$q.gguf" --quant "$q" >/dev/null
done
rm -f "$work/knn.onnx"

echo "| catalog | connections | users/s | p50 | p99 | server CPU ms/user | non-200 |"
echo "|---|---|---|---|---|---|---|"
for q in f32 q8_0; do
	port=$(free_port)
	cat >"$work/$q.conf" <<CONF
listen = 127.0.0.1:$port
workers = 2
metrics_interval_s = 0
[model knn]
path = $work/knn.$q.gguf
max_batch_size = 64
max_batch_delay_us = 2000
max_queue = 100000
CONF
	launch_modeld "$q"
	curl -sf "http://127.0.0.1:$port/v1/predict" -d @"$work/body.json" >/dev/null
	for c in 1 16; do
		threads=2; [ "$c" -lt 2 ] && threads=1
		t0=$(cpu_ticks "$pid")
		out=$(BODY_FILE="$work/body.json" wrk -t$threads -c$c -d"${duration}s" --latency \
			-s "$here/post.lua" "http://127.0.0.1:$port/v1/predict")
		t1=$(cpu_ticks "$pid")
		rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
		p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
		p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
		bad=$(echo "$out" | awk '/^non200/ {print $2}')
		cpu=$(echo "$out" | awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
			'/requests in/ {if ($1 > 0) printf "%.1f", t / hz * 1e3 / $1}')
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$q" "$c" "$rps" "$p50" "$p99" \
			"${cpu:-?}" "${bad:-0}"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || :
done
