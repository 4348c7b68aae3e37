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
. "$here/lib.sh"

rps() {
	BODY_FILE="$work/regression.body.json" wrk -t2 -c64 -d"${duration}s" -s "$here/post.lua" \
		"$1" | awk '/^Requests\/sec/ {printf "%.0f", $2}'
}

# modeld_rps INLINE_US: requests/s of a fresh modeld
modeld_rps() {
	start_modeld regression "$work/regression.gguf" 64 1000 "$1"
	rps "http://127.0.0.1:$port/v1/predict"
	kill "$pid"; wait "$pid" 2>/dev/null || :
	rm -f "$work"/regression.db*
}

make_models
start_nginx
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | nginx | batching on | share | inline | share |"
echo "|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
	n=$(rps "http://127.0.0.1:$nginx_port/")
	on=$(modeld_rps 0)
	inl=$(modeld_rps 100)
	echo "$r $n $on $inl" | awk '{printf "| %s | %s | %s | %.0f%% | %s | %.0f%% |\n",
		$1, $2, $3, 100 * $3 / $2, $4, 100 * $4 / $2}'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
