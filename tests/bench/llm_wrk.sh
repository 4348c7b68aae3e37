#!/bin/sh
# Continuous-batching benchmark through the HTTP API with wrk as the client
# (not part of make check): the models and server settings of llm_http.sh,
# but the streams come from wrk (tests/bench/http/stream.lua), which spends
# far less CPU on the 2 cores it shares with modeld than node does.
# For 1, 2, 4 and 8 connections (each one stream, its next request sent as
# the answer ends) it prints aggregate generated tokens/s, estimated as
# connections x tokens per answer / mean answer time, the 8/1 ratio, and
# the CPU time per generated token (at that rate over wrk's run) of modeld
# and of wrk.
# Usage: tests/bench/llm_wrk.sh [BUILDDIR]   (DURATION=8 seconds a width;
# needs wrk, curl and ~1 GB of disk)
set -eu
here=$(cd "$(dirname "$0")/http" && pwd)
top_srcdir=$(cd "$here/../../.." && pwd)
builddir=$(cd "${1:-.}" && pwd)
duration=${DURATION:-8}
. "$here/lib.sh"
need curl
"$builddir/tests/bench/bench_llama" make "$work/f32.gguf"
for t in q8_0 q4_0; do
	"$modelctl" quantize "$work/f32.gguf" "$work/$t.gguf" "$t" >/dev/null
done
"$builddir/tests/bench/bench_llama" quant "$work/f32.gguf" "$work/q4_k.gguf" q4_k
printf '{"model": "m", "prompt": [1, 100, 200, 300], "max_tokens": 64, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}' \
	>"$work/body.json"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %9s %9s %9s %9s  %5s  %s\n' type 1 2 4 8 8/1 "CPU us/token at 8: modeld, wrk"
for t in f32 q8_0 q4_0 q4_k; do
	port=$(free_port)
	cat >"$work/$t.conf" <<CONF
listen = 127.0.0.1:$port
workers = 2
log_db = $work/$t.db
[model m]
path = $work/$t.gguf
parallel = 8
ctx_size = 256
max_queue = 64
CONF
	launch_modeld "$t"
	curl -sf "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' \
		-d @"$work/body.json" >/dev/null # warm the page cache
	row="" r1="" r8="" mcpu="" wcpu=""
	for n in 1 2 4 8; do
		m0=$(cpu_ticks "$pid")
		times >"$work/t0"
		BODY_FILE="$work/body.json" wrk -t1 -c"$n" -d"${duration}s" --timeout 60s -s "$here/stream.lua" \
			"http://127.0.0.1:$port/v1/completions" >"$work/wrk.out"
		times >"$work/t1"
		m1=$(cpu_ticks "$pid")
		line=$(grep '^tokens' "$work/wrk.out")
		bad=$(echo "$line" | awk '{print $10}')
		[ "$bad" = 0 ] || { echo "$t: $bad answers failed" >&2; exit 1; }
		[ "$(echo "$line" | awk '{print $4}')" -gt 0 ] ||
			{ echo "$t: no answer ended in ${duration}s (raise DURATION)" >&2; exit 1; }
		rate=$(echo "$line" | awk -v n="$n" '{printf "%.1f", n * ($2 / $4) / ($8 / 1e6)}')
		row="$row $(printf '%9s' "$rate")"
		[ "$n" = 1 ] && r1=$rate
		if [ "$n" = 8 ]; then
			r8=$rate
			# tokens streamed while both CPU times ran, answers cut off included
			tok=$(echo "$line" | awk -v r="$rate" '{print r * $6 / 1e6}')
			mcpu=$(awk -v m="$((m1 - m0))" -v t="$tok" -v hz="$(getconf CLK_TCK)" \
				'BEGIN {printf "%.0f", m * 1e6 / hz / t}')
			wcpu=$(cat "$work/t0" "$work/t1" | awk -v t="$tok" '
				function s(x) { split(x, a, "m"); return a[1] * 60 + a[2] }
				NR == 2 { c0 = s($1) + s($2) } NR == 4 { c1 = s($1) + s($2) }
				END { printf "%.0f", (c1 - c0) * 1e6 / t }')
		fi
	done
	kill "$pid" 2>/dev/null || :
	wait "$pid" 2>/dev/null || :
	printf '%-6s%s  %5s  %s\n' "$t" "$row" "$(awk -v a="$r8" -v b="$r1" 'BEGIN {printf "%.2fx", a / b}')" "$mcpu, $wcpu"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
