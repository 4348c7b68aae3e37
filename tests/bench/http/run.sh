#!/bin/sh
# HTTP benchmark of modeld (not a test): wrk on loopback against the demo
# regression MLP and the scoring MLP fixture at 1, 16 and 64 connections,
# batching on and off, beside a static nginx `return 200` as the ceiling.
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
modeld="$builddir/server/modeld"
modelctl="$builddir/models/modelctl"
for tool in wrk nginx; do
	command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	command -v $tool >/dev/null 2>&1 || { echo "$tool not found" >&2; exit 1; }
done
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || :; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_ticks PID...: user + system clock ticks of the processes so far
cpu_ticks() {
	for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0; done |
		awk '{t += $1} END {print t + 0}'
}

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

# start_modeld NAME GGUF BATCH DELAY_US INLINE_US: sets port
start_modeld() {
	port=$(free_port)
	cat >"$work/$1.conf" <<CONF
listen = 127.0.0.1:$port
workers = 2
log_db = $work/$1.db
metrics_interval_s = 0
max_connections = 4096
[model $1]
path = $2
max_batch_size = $3
max_batch_delay_us = $4
max_queue = 100000
inline_max_us = $5
CONF
	"$modeld" -c "$work/$1.conf" 2>"$work/$1.log" &
	pid=$!
	pids="$pids $pid"
	i=0
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$work/$1.log" >&2; exit 1; }
		sleep 0.05
	done
}

"$modelctl" convert "$top_srcdir/models/demo/regression.onnx" "$work/regression.gguf" \
	--quant f32 >/dev/null
"$modelctl" convert "$top_srcdir/tests/fixtures/models/mlp_scoring.onnx" "$work/scoring.gguf" \
	--quant f32 >/dev/null
# one instance per request, as an online client sends them
/usr/bin/python3 - "$top_srcdir" "$work" <<'PY'
import json, sys
src, work = sys.argv[1], sys.argv[2]
for name, path in (("regression", "models/demo/regression.request.json"),
                   ("scoring", "tests/fixtures/models/mlp_scoring.request.json")):
    req = json.load(open(f"{src}/{path}"))
    json.dump({"model": name, "inputs": req["inputs"][:1]}, open(f"{work}/{name}.body.json", "w"))
PY

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "| target | connections | requests/s | p50 | p99 | CPU us/request | non-200 |"
echo "|---|---|---|---|---|---|---|"
port=$(free_port)
mkdir -p "$work/nginx"
sed -e "s|@PORT@|$port|" -e "s|@DIR@|$work/nginx|" "$here/nginx-static.conf" >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work/nginx" 2>"$work/nginx.log" &
nginx_pid=$!
pids="$pids $nginx_pid"
sleep 0.5
nginx_pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
for c in 1 16 64; do
	wrk_row "nginx static return 200" $c "http://127.0.0.1:$port/" \
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
