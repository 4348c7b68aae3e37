#!/bin/sh
# modelctl end to end: usage and exit codes, convert + inspect + predict +
# quantize + bench on the mlp_small fixture (answers compared with PyTorch's),
# refused requests, and inspect on a llama.cpp vocabulary file when present.
: "${top_srcdir:=.}" "${top_builddir:=.}"
MODELCTL="$top_builddir/models/modelctl"
JSON_COMPARE="$top_builddir/tests/tools/json_compare"
FIX="$top_srcdir/tests/fixtures/models"
VOCAB="$top_srcdir/../shared/vocab/ggml-vocab-llama-spm.gguf"

if [ ! -x "$MODELCTL" ]; then
	echo "skipped: modelctl not built"
	exit 77
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/test_modelctl.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
passed=0
failed=0

ok() {
	passed=$((passed + 1))
}
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}
# expect_exit CODE CMD...: run CMD (stdout in $W/out, stderr in $W/err).
expect_exit() {
	want=$1
	shift
	"$@" >"$W/out" 2>"$W/err"
	got=$?
	if [ "$got" = "$want" ]; then ok; else
		fail "exit $got, want $want: $* ($(head -c 300 "$W/err"))"
	fi
}
# contains FILE TEXT: FILE holds the fixed string TEXT.
contains() {
	if grep -qF -- "$2" "$1"; then ok; else
		fail "$1 lacks: $2 (has: $(head -c 300 "$1"))"
	fi
}

# ---- usage and exit codes
expect_exit 0 "$MODELCTL" --help
contains "$W/out" "usage: modelctl COMMAND"
expect_exit 2 "$MODELCTL"
expect_exit 2 "$MODELCTL" frobnicate
contains "$W/err" "unknown command 'frobnicate'"
for cmd in convert quantize inspect predict bench; do
	expect_exit 0 "$MODELCTL" "$cmd" --help
	contains "$W/out" "usage: modelctl $cmd"
	expect_exit 2 "$MODELCTL" "$cmd"
	contains "$W/err" "usage: modelctl $cmd"
done
expect_exit 2 "$MODELCTL" convert a.onnx b.gguf --quant q3_x
contains "$W/err" "--quant takes f32, f16, q8_0 or q4_0"
expect_exit 2 "$MODELCTL" predict m.gguf --threads 0
expect_exit 2 "$MODELCTL" bench m.gguf --batch 0
expect_exit 2 "$MODELCTL" inspect m.gguf --color
contains "$W/err" "unknown option --color"
expect_exit 1 "$MODELCTL" inspect "$W/absent.gguf"
contains "$W/err" "modelctl: error: $W/absent.gguf"
printf 'not a gguf file at all' >"$W/junk.gguf"
expect_exit 1 "$MODELCTL" inspect "$W/junk.gguf"
expect_exit 1 "$MODELCTL" predict "$W/junk.gguf" "$FIX/mlp_small.request.json"

# ---- convert, inspect, predict, quantize, bench on a real model
M="$W/mlp_small.gguf"
expect_exit 0 "$MODELCTL" convert "$FIX/mlp_small.onnx" "$M"
if [ ! -s "$M" ]; then
	echo "convert failed; the remaining checks need its file"
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi
expect_exit 0 "$MODELCTL" inspect "$M"
contains "$W/out" "GGUF version 3, alignment"
contains "$W/out" 'general.architecture = "modelgraph"'
contains "$W/out" "float32  [*,10]"
contains "$W/out" "totals by type:"
expect_exit 0 "$MODELCTL" inspect "$M" --json
# The JSON form parses and names the input with its shape.
if /usr/bin/python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
g = d["graph"]
assert g["inputs"][0]["name"] == "x", g
assert g["inputs"][0]["shape"] == ["*", 10], g
assert g["outputs"][0]["shape"] == ["*", 1], g
assert d["version"] == 3 and len(d["tensors"]) > 0
assert sum(t["bytes"] for t in d["tensors"]) == d["tensor_bytes"]' "$W/out" 2>"$W/py"; then ok; else
	fail "inspect --json: $(cat "$W/py")"
fi

expect_exit 0 "$MODELCTL" predict "$M" "$FIX/mlp_small.request.json"
cp "$W/out" "$W/answer.json"
contains "$W/answer.json" '{"model":"mlp_small","outputs":[['
expect_exit 0 "$JSON_COMPARE" "$W/answer.json" "$FIX/mlp_small.expected.json" --tol 1e-4
# The same answer, byte for byte, from stdin, '-' and with 2 threads.
"$MODELCTL" predict "$M" <"$FIX/mlp_small.request.json" >"$W/stdin.json" 2>&1
if cmp -s "$W/stdin.json" "$W/answer.json"; then ok; else fail "stdin answer differs"; fi
"$MODELCTL" predict "$M" - <"$FIX/mlp_small.request.json" >"$W/dash.json" 2>&1
if cmp -s "$W/dash.json" "$W/answer.json"; then ok; else fail "'-' answer differs"; fi
"$MODELCTL" predict "$M" --threads 2 "$FIX/mlp_small.request.json" >"$W/t2.json" 2>&1
expect_exit 0 "$JSON_COMPARE" "$W/t2.json" "$FIX/mlp_small.expected.json" --tol 1e-4
# "instances" answers "predictions".
echo '{"instances":[[1,2,3,4,5,6,7,8,9,10]]}' >"$W/inst.json"
expect_exit 0 "$MODELCTL" predict "$M" "$W/inst.json"
contains "$W/out" '{"model":"mlp_small","predictions":[['

# Refused requests: the codec's code and message on stderr, exit 1.
echo '{"inputs":[[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9]]}' >"$W/ragged.json"
expect_exit 1 "$MODELCTL" predict "$M" "$W/ragged.json"
contains "$W/err" \
	"modelctl: error: invalid_shape: input 'x': ragged list at [1]: expected 10 elements, got 9"
echo '{"inputs":[[1,2,3,4,5,6,7,8,9]]}' >"$W/short.json"
expect_exit 1 "$MODELCTL" predict "$M" "$W/short.json"
contains "$W/err" "modelctl: error: invalid_shape: input 'x': expected [*,10], got [1,9]"
echo '{"inputs":{"x":[[1,2,3,4,5,6,7,8,9,10]],"z":[1]}}' >"$W/unknown.json"
expect_exit 1 "$MODELCTL" predict "$M" "$W/unknown.json"
contains "$W/err" "modelctl: error: unknown_input: unknown input 'z' (expected: x)"
echo '{"inputs": [[1,2' >"$W/broken.json"
expect_exit 1 "$MODELCTL" predict "$M" "$W/broken.json"
contains "$W/err" "modelctl: error: invalid_json: line"
expect_exit 1 "$MODELCTL" predict "$M" "$W/absent.json"
test -s "$W/out" && fail "refused request printed an answer" || ok

expect_exit 0 "$MODELCTL" bench "$M" --batch 4 --seconds 0.2
contains "$W/out" "batch=4 threads=1 weights=native"
contains "$W/out" "samples_per_s="

# quantize to q8_0: a smaller file answering within the q8_0 tolerance.
Q="$W/mlp_small.q8_0.gguf"
expect_exit 0 "$MODELCTL" quantize "$M" "$Q" q8_0
expect_exit 0 "$MODELCTL" inspect "$Q"
contains "$W/out" "q8_0"
expect_exit 0 "$MODELCTL" predict "$Q" "$FIX/mlp_small.request.json"
cp "$W/out" "$W/q8.json"
expect_exit 0 "$JSON_COMPARE" "$W/q8.json" "$FIX/mlp_small.expected.json" --tol 2e-2
expect_exit 0 "$MODELCTL" predict "$Q" --weights expand "$FIX/mlp_small.request.json"
cp "$W/out" "$W/q8x.json"
expect_exit 0 "$JSON_COMPARE" "$W/q8x.json" "$FIX/mlp_small.expected.json" --tol 2e-2
if [ "$(wc -c <"$Q")" -lt "$(wc -c <"$M")" ]; then ok; else fail "q8_0 file not smaller"; fi

# ---- any GGUF: a llama.cpp vocabulary file
if [ -r "$VOCAB" ]; then
	expect_exit 0 "$MODELCTL" inspect "$VOCAB"
	contains "$W/out" "tokenizer.ggml.tokens = [32000 strings: '<unk>', '<s>', '</s>', ...]"
	contains "$W/out" "tokenizer.ggml.scores = [32000 f32: 0, 0, 0, ...]"
	contains "$W/out" 'tokenizer.ggml.model = "llama"'
	expect_exit 0 "$MODELCTL" inspect "$VOCAB" --json
	if /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/out"; then ok; else
		fail "inspect --json of the vocabulary is not JSON"
	fi
else
	echo "note: $VOCAB absent, vocabulary checks skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
