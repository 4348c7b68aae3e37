# Shared by run.sh, paired.sh and retrieval.sh (sourced; not run on its
# own). Expects here (this directory), top_srcdir and builddir; sets
# modeld, modelctl, work (a temporary directory removed at exit) and pids
# (killed at exit).
modeld="$builddir/server/modeld"
modelctl="$builddir/models/modelctl"

# need TOOL...: exit unless every TOOL is on PATH (or in /usr/sbin)
need() {
	for tool in "$@"; do
		command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
		command -v $tool >/dev/null 2>&1 || { echo "$tool not found" >&2; exit 1; }
	done
}
need wrk
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

# make_models: $work/{regression,scoring}.gguf at F32 and their one-instance
# bodies $work/{regression,scoring}.body.json, as an online client sends them
make_models() {
	"$modelctl" convert "$top_srcdir/models/demo/regression.onnx" "$work/regression.gguf" \
		--quant f32 >/dev/null
	"$modelctl" convert "$top_srcdir/tests/fixtures/models/mlp_scoring.onnx" \
		"$work/scoring.gguf" --quant f32 >/dev/null
	/usr/bin/python3 - "$top_srcdir" "$work" <<'PY'
import json, sys
src, work = sys.argv[1], sys.argv[2]
for name, path in (("regression", "models/demo/regression.request.json"),
                   ("scoring", "tests/fixtures/models/mlp_scoring.request.json")):
    req = json.load(open(f"{src}/{path}"))
    json.dump({"model": name, "inputs": req["inputs"][:1]}, open(f"{work}/{name}.body.json", "w"))
PY
}

# start_nginx: the static `return 200` ceiling; sets nginx_port, nginx_pid
start_nginx() {
	need nginx
	nginx_port=$(free_port)
	mkdir -p "$work/nginx"
	sed -e "s|@PORT@|$nginx_port|" -e "s|@DIR@|$work/nginx|" "$here/nginx-static.conf" \
		>"$work/nginx.conf"
	nginx -c "$work/nginx.conf" -p "$work/nginx" 2>"$work/nginx.log" &
	nginx_pid=$!
	pids="$pids $nginx_pid"
	sleep 0.5
}

# launch_modeld NAME: modeld on $work/NAME.conf (listening on $port), once
# it answers /readyz; sets pid
launch_modeld() {
	"$modeld" -c "$work/$1.conf" 2>"$work/$1.log" &
	pid=$!
	pids="$pids $pid"
	i=0
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 400 ] || { cat "$work/$1.log" >&2; exit 1; }
		sleep 0.05
	done
}

# start_modeld NAME GGUF BATCH DELAY_US INLINE_US: a modeld serving GGUF as
# NAME, ready; sets port and pid
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
	launch_modeld "$1"
}
