#!/bin/sh
# Continuous-batching benchmark through the HTTP API with wrk as the client
# (not part of make check): the models and server settings of llm_http.sh,
# but the streams come from wrk (tests/bench/http/stream.lua), which spends
# far less CPU on the 2 cores it shares with modeld than node does.
# For 1, 2, 4 and 8 connections (each one stream, its next request sent as
# the answer ends) it prints aggregate generated tokens/s, estimated as
# connections x tokens per answer / mean answer time, the 8/1 ratio, and
# the CPU time per generated token (at that rate over wrk's runs) of modeld
# and of wrk. The widths run ROUNDS times in turn (1, 2, 4, 8, 1, 2, ...):
# each figure is the median over the rounds and 8/1 the median of the
# rounds' own ratios, so a burst of other load on a shared host moves one
# round, not the comparison.
# Usage: tests/bench/llm_wrk.sh [BUILDDIR]   (DURATION=8 seconds a width,
# ROUNDS=3, TYPES="f32 q8_0 q4_0 q4_k"; needs wrk, curl and ~1 GB of disk)
set -eu
here=$(cd "$(dirname "$0")/http" && pwd)
top_srcdir=$(cd "$here/../../.." && pwd)
builddir=$(cd "${1:-.}" && pwd)
duration=${DURATION:-8}
rounds=${ROUNDS:-3}
known="f32 q8_0 q4_0 q4_k"
types=${TYPES:-$known}
for t in $types; do
	case " $known " in *" $t "*) ;; *) echo "TYPES: $t is not one of $known" >&2; exit 2 ;; esac
done
. "$here/lib.sh"
need curl
# the F32 model, and the types asked for quantized from it
"$builddir/tests/bench/bench_llama" make "$work/f32.gguf"
for t in $types; do
	case $t in
	q8_0 | q4_0) "$modelctl" quantize "$work/f32.gguf" "$work/$t.gguf" "$t" >/dev/null ;;
	q4_k) "$builddir/tests/bench/bench_llama" quant "$work/f32.gguf" "$work/q4_k.gguf" q4_k ;;
	esac
done
printf '{"model": "m", "prompt": [1, 100, 200, 300], "max_tokens": 64, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}' \
	>"$work/body.json"
# median of the numbers on standard input, one a line
median() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); medians of $rounds rounds"
echo "tokens/s at 1, 2, 4 and 8 streams; us/token: CPU time a token at 8 streams, modeld's and wrk's"
printf '%-6s %9s %9s %9s %9s  %5s  %-12s  %s\n' type 1 2 4 8 8/1 "us/token" "8/1 by round"
for t in $types; do
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
	: >"$work/rates"
	mticks=0 wsec=0 tok8=0
	for r in $(seq "$rounds"); do
		for n in 1 2 4 8; do
			m0=$(cpu_ticks "$pid")
			times >"$work/t0"
			BODY_FILE="$work/body.json" wrk -t1 -c"$n" -d"${duration}s" --timeout 60s \
				-s "$here/stream.lua" "http://127.0.0.1:$port/v1/completions" >"$work/wrk.out"
			times >"$work/t1"
			m1=$(cpu_ticks "$pid")
			line=$(grep '^tokens' "$work/wrk.out")
			bad=$(echo "$line" | awk '{print $10}')
			[ "$bad" = 0 ] || { echo "$t: $bad answers failed" >&2; exit 1; }
			[ "$(echo "$line" | awk '{print $4}')" -gt 0 ] ||
				{ echo "$t: no answer ended in ${duration}s (raise DURATION)" >&2; exit 1; }
			rate=$(echo "$line" | awk -v n="$n" '{printf "%.1f", n * ($2 / $4) / ($8 / 1e6)}')
			echo "$r $n $rate" >>"$work/rates"
			if [ "$n" = 8 ]; then
				# tokens streamed while both CPU times ran, answers cut off included
				tok8=$(echo "$line" | awk -v r="$rate" -v s="$tok8" '{print s + r * $6 / 1e6}')
				mticks=$((mticks + m1 - m0))
				wsec=$(cat "$work/t0" "$work/t1" | awk -v s="$wsec" '
					function f(x) { split(x, a, "m"); return a[1] * 60 + a[2] }
					NR == 2 { c0 = f($1) + f($2) } NR == 4 { c1 = f($1) + f($2) }
					END { print s + c1 - c0 }')
			fi
		done
	done
	row=""
	for n in 1 2 4 8; do
		row="$row $(printf '%9s' "$(awk -v n="$n" '$2 == n {print $3}' "$work/rates" | median)")"
	done
	awk '$2 == 1 {a[$1] = $3} $2 == 8 {b[$1] = $3}
		END {for (r = 1; r in a; r++) printf "%.4f\n", b[r] / a[r]}' "$work/rates" >"$work/ratios"
	ratio=$(median <"$work/ratios")
	each=$(awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}' "$work/ratios")
	mcpu=$(awk -v m="$mticks" -v t="$tok8" -v hz="$(getconf CLK_TCK)" \
		'BEGIN {printf "%.0f", m * 1e6 / hz / t}')
	wcpu=$(awk -v w="$wsec" -v t="$tok8" 'BEGIN {printf "%.0f", w * 1e6 / t}')
	kill "$pid" 2>/dev/null || :
	wait "$pid" 2>/dev/null || :
	printf '%-6s%s  %5s  %-12s  %s\n' "$t" "$row" "$(printf '%.2fx' "$ratio")" "$mcpu, $wcpu" "$each"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
