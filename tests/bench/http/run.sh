#!/bin/sh
# HTTP benchmark of modeld (not a test): wrk on loopback against the demo
# regression MLP and the scoring MLP fixture at 1, 16 and 64 connections,
# batching on, off and inline, beside a static nginx `return 200` as the ceiling.
# Usage: tests/bench/http/run.sh [BUILDDIR]   (DURATION=5 by default)
# Prints a markdown table: requests/s, p50 and p99 latency, and the CPU time
# the server processes spent per request (user + system, from /proc), which
# drifts far less than requests/s on a shared machine; then, per model, the
# requests/s of batching on over off at 64 connections, and the load average
# before and after (other work on the machine moves every figure).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../../.." && pwd)
builddir=$(cd "${1:-.}" && pwd)
duration=${DURATION:-5}
. "$here/lib.sh"

# wrk_row LABEL CONNS URL BODY PID...: one table row; PIDs of the server
wrk_row() {
	threads=2; [ "$2" -lt 2 ] && threads=1
	label=$1 conns=$2 url=$3 body=$4
	shift 4
	t0=$(cpu_ticks "$@")
	out=$(BODY_FILE="$body" wrk -t$threads -c"$conns" -d"${duration}s" --latency \
		-s "$here/post.lua" "$url")
	t1=$(cpu_ticks "$@")
	rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	bad=$(echo "$out" | awk '/^non200/ {print $2}')
	cpu=$(echo "$out" | awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		'/requests in/ {if ($1 > 0) printf "%.0f", t / hz * 1e6 / $1}')
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$conns" "$rps" "$p50" "$p99" \
		"${cpu:-?}" "${bad:-0}"
}

make_models

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "| target | connections | requests/s | p50 | p99 | CPU us/request | non-200 |"
echo "|---|---|---|---|---|---|---|"
start_nginx
nginx_pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
for c in 1 16 64; do
	wrk_row "nginx static return 200" $c "http://127.0.0.1:$nginx_port/" \
		"$work/regression.body.json" $nginx_pids
done
for model in ${MODELS:-regression scoring}; do
	for mode in "batching on" "batching off" "inline"; do
		case $mode in
		"batching on") start_modeld "$model" "$work/$model.gguf" 64 1000 0 ;;
		"batching off") start_modeld "$model" "$work/$model.gguf" 1 0 0 ;;
		inline) start_modeld "$model" "$work/$model.gguf" 64 1000 100 ;;
		esac
		for c in 1 16 64; do
			wrk_row "$model, $mode" $c "http://127.0.0.1:$port/v1/predict" \
				"$work/$model.body.json" "$pid" | tee -a "$work/rows"
		done
		kill "$pid"; wait "$pid" 2>/dev/null || :
	done
done
echo
for model in ${MODELS:-regression scoring}; do
	awk -F' *[|] *' -v m="$model" '$3 == 64 && $2 == m ", batching on" {on = $4}
		$3 == 64 && $2 == m ", batching off" {off = $4}
		END {if (off > 0) printf "%s: batching on / off at 64 connections = %.2f\n", m, on / off}' \
		"$work/rows"
done
echo "load average (1, 5, 15 min): before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"
