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
# As the systemd unit does: OpenBLAS then starts no threads of its own (an
# idle one polled with sched_yield beside the decoder here, about 2% of one
# stream's tokens/s).
export OPENBLAS_NUM_THREADS=1
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
	"$bench" run "$dir/$t.gguf" "$threads" | awk '{ printf "%s %9.1f\n", $0, $9 * 1000 / $2 }' |
		tee "$dir/$t.ours"
done
# The llama.cpp peer on the same files, when installed (see README.md).
peer=$(cd "$(dirname "$0")" && pwd)/llama_peer
if [ -d "$peer/node_modules/node-llama-cpp" ]; then
	echo "llama.cpp (node-llama-cpp $(node -p "require('$peer/node_modules/node-llama-cpp/package.json').version"), prebuilt CPU backend), same files and threads; x = modeld / llama.cpp:"
	printf '%-14s %8s %8s %8s %8s %8s %7s %7s %7s %7s %7s\n' types prompt/s dec1/s agg2/s agg4/s \
		agg8/s x.prom x.dec1 x.agg2 x.agg4 x.agg8
	for t in f32 q8_0 q4_0 q4_k; do
		node "$peer/llama_peer.mjs" "$dir/$t.gguf" "$threads" |
			awk -v t="$t" -v ours="$dir/$t.ours" '{
				getline o < ours; split(o, m, " +")
				printf "%-14s %8.1f %8.1f %8.1f %8.1f %8.1f %6.2fx %6.2fx %6.2fx %6.2fx %6.2fx\n",
				    t, $2, $3, $4, $5, $6, m[4] / $2, m[5] / $3, m[6] / $4, m[7] / $5, m[8] / $6 }'
	done
else
	echo "(llama.cpp peer not installed: cd $peer && npm install --omit=optional --ignore-scripts)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
