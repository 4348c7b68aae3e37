#!/bin/sh
# Paired HTTP benchmark (not a test): nginx's static `return 200`, then
# modeld on the demo regression MLP right after it (batching on, then
# inline_max_us = 100), wrk -t2 -c64 for DURATION seconds each, ROUNDS times.
# Prints each modeld figure as a share of the nginx run just before it, which
# cancels most of the host's drift between runs.
# Usage: tests/bench/http/paired.sh [BUILDDIR] [ROUNDS]   (DURATION=4 by default)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../../.." && pwd)
builddir=$(cd "${1:-.}" && pwd)
rounds=${2:-6}
duration=${DURATION:-4}
for tool in wrk nginx; do
	command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	command -v $tool >/dev/null 2>&1 || { echo "$tool not found" >&2; exit 1; }
done
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || :; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$builddir/models/modelctl" convert "$top_srcdir/models/demo/regression.onnx" \
	"$work/regression.gguf" --quant f32 >/dev/null
/usr/bin/python3 - "$top_srcdir" "$work" <<'PY'
import json, sys
src, work = sys.argv[1], sys.argv[2]
req = json.load(open(f"{src}/models/demo/regression.request.json"))
json.dump({"model": "regression", "inputs": req["inputs"][:1]}, open(f"{work}/body.json", "w"))
PY
nport=$(free_port)
mkdir -p "$work/nginx"
sed -e "s|@PORT@|$nport|" -e "s|@DIR@|$work/nginx|" "$here/nginx-static.conf" >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work/nginx" 2>"$work/nginx.log" &
pids="$pids $!"
sleep 0.5

rps() {
	BODY_FILE="$work/body.json" wrk -t2 -c64 -d"${duration}s" -s "$here/post.lua" "$1" |
		awk '/^Requests\/sec/ {printf "%.0f", $2}'
}

# modeld_rps INLINE_US: requests/s of a fresh modeld
modeld_rps() {
	port=$(free_port)
	cat >"$work/modeld.conf" <<CONF
listen = 127.0.0.1:$port
workers = 2
log_db = $work/requests.db
metrics_interval_s = 0
max_connections = 4096
[model regression]
path = $work/regression.gguf
max_batch_size = 64
max_batch_delay_us = 1000
max_queue = 100000
inline_max_us = $1
CONF
	"$builddir/server/modeld" -c "$work/modeld.conf" 2>"$work/modeld.log" &
	pid=$!
	i=0
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$work/modeld.log" >&2; exit 1; }
		sleep 0.05
	done
	rps "http://127.0.0.1:$port/v1/predict"
	kill "$pid"; wait "$pid" 2>/dev/null || :
	rm -f "$work"/requests.db*
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | nginx | batching on | share | inline | share |"
echo "|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
	n=$(rps "http://127.0.0.1:$nport/")
	on=$(modeld_rps 0)
	inl=$(modeld_rps 100)
	echo "$r $n $on $inl" | awk '{printf "| %s | %s | %s | %.0f%% | %s | %.0f%% |\n",
		$1, $2, $3, 100 * $3 / $2, $4, 100 * $4 / $2}'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
