# The systemd notify protocol of modeld, end to end (run by test_systemd.sh):
# modeld started with NOTIFY_SOCKET naming a datagram socket bound here, its
# messages checked in order against what the daemon is doing. Python's
# standard library only. Usage: notify.py MODELD MODELCTL TOP_SRCDIR TMPDIR
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

MODELD, MODELCTL, SRCDIR, TMP = sys.argv[1:5]
REGRESSION = os.path.join(SRCDIR, "models/regression.gguf")
ROW = [59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87]


def offline(row):
    """`modelctl predict` of one row: the reference answer."""
    req = os.path.join(TMP, "request.json")
    with open(req, "w") as f:
        json.dump({"inputs": [row]}, f)
    out = subprocess.run([MODELCTL, "predict", REGRESSION, req], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return json.loads(out)["outputs"][0][0]


WANT = offline(ROW)
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", flush=True)


def http(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Daemon:
    """modeld with NOTIFY_SOCKET = name; datagrams and stderr collected."""

    def __init__(self, name, args):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name[1:] if name.startswith("@") else name)
        self.sock.settimeout(0.1)
        self.msgs = []  # (monotonic seconds, text)
        env = dict(os.environ, NOTIFY_SOCKET=name)
        self.proc = subprocess.Popen([MODELD] + args, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.stderr = ""
        self.port = 0
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr += line
            m = re.search(r"listening on .*:(\d+)$", line)
            if m:
                self.port = int(m.group(1))

    def wait_msg(self, pred, what, timeout=20):
        """First new datagram satisfying pred; None (a failed check) on timeout.
        Datagrams before it are kept in self.msgs too."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                text = self.sock.recv(65536).decode()
            except socket.timeout:
                continue
            self.msgs.append((time.monotonic(), text))
            if pred(text):
                return text
        check(False, f"no {what} datagram within {timeout} s; got {[m[1] for m in self.msgs]}; "
              f"stderr: {self.stderr}")
        return None

    def wait_port(self, timeout=5):
        end = time.monotonic() + timeout
        while not self.port and time.monotonic() < end:
            time.sleep(0.02)
        return self.port > 0

    def wait_stderr(self, needle, timeout=5):
        end = time.monotonic() + timeout
        while needle not in self.stderr and time.monotonic() < end:
            time.sleep(0.02)
        return needle in self.stderr

    def no_more(self, secs=0.3):
        end = time.monotonic() + secs
        got = []
        while time.monotonic() < end:
            try:
                got.append(self.sock.recv(65536).decode())
            except socket.timeout:
                pass
        return got

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


def fields(text):
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


def full_cycle(name):
    """Start, predict, SIGHUP (good and failing reload), SIGTERM."""
    conf = os.path.join(TMP, "modeld.conf")
    cli_db = os.path.join(TMP, "cli.db")
    # the file's listen, log_db and model path are overridden by the command line
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:1\nlog_db = %s/file.db\nworkers = 1\n"
                "[model regression]\npath = %s/absent.gguf\nmax_batch_size = 4\n" % (TMP, TMP))
    d = Daemon(name, ["-c", conf, "--listen", "127.0.0.1:0", "--model",
                      "regression=" + REGRESSION, "--log-db", cli_db])
    try:
        ready = d.wait_msg(lambda t: "READY=1" in t, "READY=1")
        if ready is None:
            return
        check(d.wait_stderr("listening on") and d.wait_port(), f"port from stderr: {d.stderr}")
        f = fields(ready)
        check(f.get("STATUS") == f"serving 1 model on port {d.port}", f"READY status: {ready!r}")
        check(not any("RELOADING" in m or "STOPPING" in m for _, m in d.msgs),
              f"nothing but READY at start: {d.msgs}")
        # READY=1 means the models answer now
        st, body = http(d.port, "GET", "/readyz")
        check(st == 200, f"/readyz right after READY=1: {st} {body}")
        st, body = http(d.port, "POST", "/v1/models/regression:predict", {"inputs": [ROW]})
        check(st == 200 and json.loads(body)["predictions"][0][0] == WANT,
              f"predict after READY=1: {st} {body}")

        # SIGHUP: RELOADING=1 with the monotonic time of the reload, then READY=1
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGHUP)
        rel = d.wait_msg(lambda t: "RELOADING=1" in t, "RELOADING=1")
        rdy = d.wait_msg(lambda t: "READY=1" in t, "READY=1 after SIGHUP")
        if rel:
            usec = int(fields(rel).get("MONOTONIC_USEC", "-1"))
            check(abs(usec / 1e6 - t0) < 5, f"MONOTONIC_USEC {usec} vs now {t0 * 1e6:.0f}")
        if rdy:
            check(fields(rdy).get("STATUS", "").startswith("serving 1 model"),
                  f"READY after reload: {rdy!r}")
        st, _ = http(d.port, "GET", "/readyz")
        check(st == 200, f"/readyz after reload: {st}")

        # a reload whose config is broken keeps serving, and still says READY=1
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write("workers = 0\n" + text)
        d.proc.send_signal(signal.SIGHUP)
        d.wait_msg(lambda t: "RELOADING=1" in t, "RELOADING=1 (failing reload)")
        d.wait_msg(lambda t: "READY=1" in t, "READY=1 after a failed reload")
        check(d.wait_stderr("modeld.conf:1: workers: 0 is outside"), f"reload error logged: {d.stderr}")
        st, body = http(d.port, "POST", "/v1/models/regression:predict", {"inputs": [ROW]})
        check(st == 200, f"predict after a failed reload: {st} {body}")
        st, body = http(d.port, "GET", "/metrics")
        check("modeld_reloads_total 2" in body and "modeld_reload_failures_total 1" in body,
              "reload counters in /metrics")

        # SIGTERM: STOPPING=1 with a status, exit 0, nothing after it
        d.proc.send_signal(signal.SIGTERM)
        stop = d.wait_msg(lambda t: "STOPPING=1" in t, "STOPPING=1")
        if stop:
            check(fields(stop).get("STATUS") == "draining", f"STOPPING status: {stop!r}")
        try:
            rc = d.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        check(rc == 0, f"exit status after SIGTERM: {rc}; stderr: {d.stderr}")
        late = d.no_more()
        check(not late, f"datagrams after STOPPING=1: {late}")
        check(os.path.exists(cli_db) and not os.path.exists(os.path.join(TMP, "file.db")),
              "--log-db overrides the file's log_db")
        order = [k for _, m in d.msgs for k in ("READY", "RELOADING", "STOPPING")
                 if k + "=1" in m]
        check(order == ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"],
              f"message order {order}")
    finally:
        d.close()


def start_failure(name):
    """A model that cannot load: no READY=1, exit 1; a bad file: exit 2 naming the line."""
    d = Daemon(name, ["--listen", "127.0.0.1:0", "--model", f"x={TMP}/absent.gguf"])
    try:
        rc = d.proc.wait(timeout=15)
        check(rc == 1, f"exit status with an absent model: {rc}")
        got = [m for m in d.no_more(0.2)]
        check(not any("READY=1" in m for m in got), f"no READY=1 when loading fails: {got}")
    finally:
        d.close()
    conf = os.path.join(TMP, "bad.conf")
    with open(conf, "w") as f:
        f.write("# bad\nmax_body_bytes = 10\n")
    p = subprocess.run([MODELD, "-c", conf, "--model", "r=" + REGRESSION],
                       capture_output=True, text=True, timeout=15)
    check(p.returncode == 2 and "bad.conf:2: max_body_bytes: 10 is outside" in p.stderr,
          f"bad config: exit {p.returncode}, {p.stderr!r}")


full_cycle(os.path.join(TMP, "notify.sock"))
full_cycle(f"@modeld-e2e-notify-{os.getpid()}")
start_failure(os.path.join(TMP, "notify2.sock"))
print(f"notify: {checks - failures}/{checks} checks passed", flush=True)
sys.exit(1 if failures else 0)
