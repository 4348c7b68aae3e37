#!/bin/sh
# Deployment checks of systemd/modeld.service and the notify protocol:
# 1. `systemd-analyze verify` of the unit (ExecStart pointed at the built
#    modeld) reports nothing, and its offline `security` exposure is <= 2.0;
# 2. modeld under a NOTIFY_SOCKET the test listens on (tests/e2e/notify.py):
#    READY=1 once the models answer, RELOADING=1 then READY=1 around SIGHUP
#    (a failed reload too), STOPPING=1 at SIGTERM, STATUS= lines, for a socket
#    path and an abstract name; the command line overrides the file.
# Each part is skipped when its tool (systemd-analyze, python3) is missing.
: "${top_srcdir:=.}" "${top_builddir:=.}"
modeld=$(cd "$top_builddir" && pwd)/server/modeld
modelctl=$(cd "$top_builddir" && pwd)/models/modelctl
for b in "$modeld" "$modelctl"; do
	[ -x "$b" ] || { echo "SKIP: $b not built"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/modeld-systemd-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
ran=0

if command -v systemd-analyze >/dev/null 2>&1; then
	ran=1
	# the unit name must stay modeld.service for verify
	sed "s#/usr/bin/modeld#$modeld#g" "$top_srcdir/systemd/modeld.service" >"$tmp/modeld.service"
	grep -q "^ExecStart=$modeld " "$tmp/modeld.service" || {
		echo "FAIL: no ExecStart=/usr/bin/modeld line to substitute"
		fail=1
	}
	# --man=no: the man page is not installed here; warnings (unknown keys,
	# bad values) do not change the exit status, so any line about the unit fails
	out=$(cd "$tmp" && systemd-analyze verify --man=no ./modeld.service 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || printf '%s\n' "$out" | grep -q 'modeld\.service'; then
		echo "FAIL: systemd-analyze verify (exit $rc):"
		printf '%s\n' "$out"
		fail=1
	else
		echo "ok: systemd-analyze verify"
	fi
	out=$(cd "$tmp" && systemd-analyze security --offline=true ./modeld.service 2>&1)
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for modeld\.service: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		echo "FAIL: no exposure level from systemd-analyze security:"
		printf '%s\n' "$out" | tail -5
		fail=1
	elif awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		echo "ok: exposure level $score <= 2.0"
	else
		echo "FAIL: exposure level $score > 2.0; the unprotected settings:"
		printf '%s\n' "$out" | grep '^✗'
		fail=1
	fi
else
	echo "skip: systemd-analyze not found"
fi

py=
for p in /usr/bin/python3 python3; do
	command -v "$p" >/dev/null 2>&1 && { py=$p; break; }
done
if [ -n "$py" ]; then
	ran=1
	"$py" "$top_srcdir/tests/e2e/notify.py" "$modeld" "$modelctl" "$top_srcdir" "$tmp" || fail=1
else
	echo "skip: python3 not found (notify protocol)"
fi

[ $ran -eq 1 ] || { echo "SKIP: neither systemd-analyze nor python3"; exit 77; }
exit $fail
