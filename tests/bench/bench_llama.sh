#!/bin/sh
# Llama decoder benchmark (not part of make check): writes a random llama
# model of 110M parameters (dim 768, 12 layers, 12 heads, ffn 2048, vocab
# 32000) as F32 into a temporary directory, quantizes it (modelctl; q4_k
# with output q6_k by bench_llama itself), and
# prints tokens/s per weight type beside the memory-bandwidth bound.
# Usage: tests/bench/bench_llama.sh [BUILDDIR] [THREADS]   (needs ~1.5 GB of disk)
set -e
b=${1:-${top_builddir:-.}}
threads=${2:-2}
bench=$b/tests/bench/bench_llama
modelctl=$b/models/modelctl
[ -x "$bench" ] || { echo "build $bench first (make tests/bench/bench_llama)" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench_llama.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
"$bench" make "$dir/f32.gguf"
for t in q8_0 q4_0; do
	"$modelctl" quantize "$dir/f32.gguf" "$dir/$t.gguf" "$t" >/dev/null
done
"$bench" quant "$dir/f32.gguf" "$dir/q4_k.gguf" q4_k # modelctl has no k-quants
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads; cpu $(nproc)"
bw=$("$bench" bw)
echo "read bandwidth (2 threads, 1 GiB): $bw GB/s"
printf '%-8s %11s %9s %9s %9s %9s %9s %s\n' types weights/tok prompt/s dec1/s agg2/s \
	agg4/s agg8/s "bound/s (dec1 % of it)"
for t in f32 q8_0 q4_0 q4_k; do
	row=$("$bench" run "$dir/$t.gguf" "$threads")
	mb=$(echo "$row" | awk '{print $2}')
	dec=$(echo "$row" | awk '{print $5}')
	echo "$row $(awk -v bw="$bw" -v mb="$mb" -v d="$dec" \
		'BEGIN { b = bw * 1000 / mb; printf "%9.1f (%.0f%%)", b, 100 * d / b }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
