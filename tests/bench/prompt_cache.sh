#!/bin/sh
# The prompt cache's effect on the time to the first token (not part of make
# check): the 110M random llama of bench_llama at Q4_0, served with and
# without prompt_cache; see prompt_cache.mjs for the cases.
# Usage: tests/bench/prompt_cache.sh [BUILDDIR]   (needs node and ~0.7 GB of disk)
set -e
b=${1:-${top_builddir:-.}}
src=$(dirname "$0")
for x in "$b/server/modeld" "$b/tests/bench/bench_llama"; do
	[ -x "$x" ] || { echo "build $x first" >&2; exit 2; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/prompt_cache.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
"$b/tests/bench/bench_llama" make "$dir/f32.gguf"
"$b/tests/bench/bench_llama" quant "$dir/f32.gguf" "$dir/q4_0.gguf" q4_0
rm -f "$dir/f32.gguf"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
node "$src/prompt_cache.mjs" "$b/server/modeld" "$dir/q4_0.gguf"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
