#!/bin/sh
# Continuous-batching benchmark through the HTTP API (not part of make check):
# a random 110M llama (dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000,
# made by bench_llama) at f32, q8_0, q4_0 and q4_k, served by modeld with 8
# slots; aggregate generated tokens/s with 1, 2, 4 and 8 concurrent greedy
# streams of 64 tokens (median of 3), and the 8-stream / 1-stream ratio.
# Usage: tests/bench/llm_http.sh [BUILDDIR]   (needs node and ~1 GB of disk)
set -e
b=${1:-${top_builddir:-.}}
src=$(dirname "$0")
for x in "$b/server/modeld" "$b/tests/bench/bench_llama" "$b/models/modelctl"; do
	[ -x "$x" ] || { echo "build $x first" >&2; exit 2; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/llm_http.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
"$b/tests/bench/bench_llama" make "$dir/f32.gguf"
for t in q8_0 q4_0; do
	"$b/models/modelctl" quantize "$dir/f32.gguf" "$dir/$t.gguf" "$t" >/dev/null
done
"$b/tests/bench/bench_llama" quant "$dir/f32.gguf" "$dir/q4_k.gguf" q4_k
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %9s %9s %9s %9s  %s\n' type 1 2 4 8 "8/1"
for t in f32 q8_0 q4_0 q4_k; do
	printf '%-6s' "$t"
	node "$src/llm_http.mjs" "$b/server/modeld" "$dir/$t.gguf" 64
done
