#!/bin/sh
# The runtime benchmark: samples/s of the scoring MLP and the CNN at batch 1,
# 64 and 256 through `modelctl bench`, beside onnxruntime-node on the same
# ONNX file, alternating the two for several rounds; prints a markdown table
# of medians and ratios, then the kernel GFLOP/s table when bench_models is
# built. See README.md beside this file.
#
# usage: tests/bench/run_bench.sh [BUILD_DIR]   (env: ROUNDS=3 BENCH_SECONDS=2 THREADS=2)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${1:-${top_builddir:-.}}
MODELCTL="$BUILD/models/modelctl"
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-2}
THREADS=${THREADS:-2}
FIX="$SRC/tests/fixtures/models"

die() {
	echo "run_bench: $*" >&2
	exit 1
}
[ -x "$MODELCTL" ] || die "no $MODELCTL: build first, or pass the build directory"
[ -d "$HERE/node_modules/onnxruntime-node" ] ||
	die "onnxruntime-node missing: cd tests/bench && ONNXRUNTIME_NODE_INSTALL=skip npm ci"
command -v node >/dev/null || die "node not found"

W=$(mktemp -d "${TMPDIR:-/tmp}/modeld-bench.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT

for spec in mlp_scoring:f32 mlp_scoring:q8_0 cnn:f32 cnn:q8_0; do
	m=${spec%%:*}
	q=${spec#*:}
	"$MODELCTL" convert "$FIX/$m.onnx" "$W/$m.$q.gguf" --quant "$q" ||
		die "convert $m at $q failed"
done

# field NAME LINE: the value of NAME=... in a bench output line.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
# median of the numbers on stdin
median() {
	sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "modelctl: $("$MODELCTL" --version); onnxruntime-node" \
	"$(node -e "console.log(require('$HERE/node_modules/onnxruntime-node').env.versions.node)")"
echo "threads $THREADS, $ROUNDS rounds of ${SECONDS_PER_RUN}s per engine, medians;" \
	"ratio = modeld / onnxruntime in the same run"
echo
echo "| model | weights | batch | modeld samples/s | ms/run | GFLOP/s | onnxruntime samples/s | ratio | goal |"
echo "|---|---|---|---|---|---|---|---|---|"
for spec in mlp_scoring:f32:1 mlp_scoring:f32:64 mlp_scoring:f32:256 \
	mlp_scoring:q8_0:1 mlp_scoring:q8_0:64 mlp_scoring:q8_0:256 \
	cnn:f32:1 cnn:f32:64 cnn:f32:256 cnn:q8_0:1 cnn:q8_0:64 cnn:q8_0:256; do
	m=${spec%%:*}
	rest=${spec#*:}
	q=${rest%%:*}
	b=${rest#*:}
	: >"$W/ours" >"$W/ort" >"$W/ms"
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		line=$("$MODELCTL" bench "$W/$m.$q.gguf" --batch "$b" --threads "$THREADS" \
			--seconds "$SECONDS_PER_RUN") || die "modelctl bench $m $q $b failed"
		field samples_per_s "$line" >>"$W/ours"
		field ms_per_run "$line" >>"$W/ms"
		line=$(node "$HERE/ort_bench.js" "$FIX/$m.onnx" --batch "$b" --threads "$THREADS" \
			--seconds "$SECONDS_PER_RUN") || die "ort_bench $m $b failed"
		field samples_per_s "$line" >>"$W/ort"
		r=$((r + 1))
	done
	ours=$(median <"$W/ours")
	ort=$(median <"$W/ort")
	ms=$(median <"$W/ms")
	goal=""
	case "$m:$q:$b" in
	mlp_scoring:f32:256) goal=">= 0.9" ;;
	mlp_scoring:q8_0:256) goal="> 1.3" ;;
	mlp_scoring:*:1) goal=">= 1.0" ;;
	cnn:f32:*) goal=">= 0.75" ;;
	esac
	# The scoring MLP does 2 * (256*1024 + 1024*512 + 512*256 + 256) FLOP a sample.
	awk -v m="$m" -v q="$q" -v b="$b" -v a="$ours" -v o="$ort" -v ms="$ms" -v g="$goal" \
		'BEGIN { f = m == "mlp_scoring" ? sprintf("%.1f", a * 1835520 / 1e9) : "-"
			printf "| %s | %s | %s | %.0f | %.3f | %s | %.0f | %.2f | %s |\n",
			m, q, b, a, ms, f, o, (o > 0 ? a / o : 0), g }'
done

# Kernel-level GFLOP/s beside OpenBLAS sgemm on the MLP's layer shapes.
if [ -x "$BUILD/tests/bench/bench_models" ]; then
	echo
	"$BUILD/tests/bench/bench_models" 0.3
else
	echo
	echo "(make tests/bench/bench_models for the kernel GFLOP/s table)"
fi
