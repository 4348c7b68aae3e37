#!/bin/sh
# Embeddings benchmark through the HTTP API (not part of make check): the
# random 110M llama of bench_llama (dim 768, 12 layers, vocab 32000) at f32,
# q8_0 and q4_k; input tokens/s of modeld's /v1/embeddings beside llama.cpp's
# embeddings on the same file (when tests/bench/llama_peer is installed, see
# README.md), and the smallest cosine between their vectors (embed_bench.mjs).
# Usage: tests/bench/embed_bench.sh [BUILDDIR] [LEN] [THREADS]   (needs node, ~0.9 GB of disk)
set -e
b=${1:-${top_builddir:-.}}
len=${2:-128}
threads=${3:-2}
src=$(dirname "$0")
for x in "$b/server/modeld" "$b/tests/bench/bench_llama" "$b/models/modelctl"; do
	[ -x "$x" ] || { echo "build $x first" >&2; exit 2; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/embed_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
"$b/tests/bench/bench_llama" make "$dir/f32.gguf"
"$b/models/modelctl" quantize "$dir/f32.gguf" "$dir/q8_0.gguf" q8_0 >/dev/null
"$b/tests/bench/bench_llama" quant "$dir/f32.gguf" "$dir/q4_k.gguf" q4_k
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); 64 inputs of $len tokens; $threads threads"
printf '%-6s %9s %9s %6s  %s\n' type modeld llama.cpp ratio "min cosine"
for t in f32 q8_0 q4_k; do
	printf '%-6s' "$t"
	node "$src/embed_bench.mjs" "$b/server/modeld" "$dir/$t.gguf" "$len" "$threads"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
