#!/bin/sh
# Llama decoder benchmark (not part of make check): writes a random llama
# model of 110M parameters (dim 768, 12 layers, 12 heads, ffn 2048, vocab
# 32000) as F32 into a temporary directory, quantizes it (q8_0, q4_0, and
# q4_k with output q6_k as llama.cpp's Q4_K_M does), and prints tokens/s per
# weight type beside the memory-bandwidth bound measured in the same rounds.
# Usage: tests/bench/bench_llama.sh [BUILDDIR] [THREADS]   (needs ~0.9 GB of disk)
# The machine is shared: the load average is printed before and after; a
# figure taken with a load above the core count says more about the others.
set -e
b=${1:-${top_builddir:-.}}
threads=${2:-2}
bench=$b/tests/bench/bench_llama
[ -x "$bench" ] || { echo "build $bench first (make tests/bench/bench_llama)" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench_llama.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
"$bench" make "$dir/f32.gguf"
for t in q8_0 q4_0 q4_k; do
	"$bench" quant "$dir/f32.gguf" "$dir/$t.gguf" "$t"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads; cpus $(nproc)"
echo "read bandwidth (2 threads, 256 MiB, median and best of 9): $("$bench" bw) GB/s"
echo "per type: medians of 3 rounds; agg N = tokens/s of N streams in one batch; bw = read GB/s"
echo "probed just before and after dec1; bound = bw / weight bytes per token; dec1/bound = the"
echo "median of the per-round ratios"
printf '%-14s %10s %8s %8s %8s %8s %8s %6s %6s %s\n' types weights/tok prompt/s dec1/s agg2/s \
	agg4/s agg8/s bw dec1/bound bound/s
for t in f32 q8_0 q4_0 q4_k; do
	"$bench" run "$dir/$t.gguf" "$threads" | awk '{ printf "%s %9.1f\n", $0, $9 * 1000 / $2 }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
