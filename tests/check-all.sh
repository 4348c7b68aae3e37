#!/bin/sh
# The whole test suite: `make check` in the configured tree, then the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer from the
# distribution tarball (`make distcheck --enable-sanitizers`), then one line
# "N passed, N failed, N skipped" summing both runs. Exit 0 only if both pass.
# Run from the top of the source tree; configures it first if needed.
set -u
cd "$(dirname "$0")/.." || exit 2
jobs=${JOBS:-2}
if [ ! -f Makefile ]; then
	{ [ -x configure ] || autoreconf -fi; } && ./configure -q || exit 2
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

make -j"$jobs" check 2>&1 | tee "$logs/check.out"
st1=$(grep -c '^# FAIL: *[1-9]\|^# ERROR: *[1-9]' "$logs/check.out")
grep -q '^# TOTAL:' "$logs/check.out" || st1=1

if [ "${MODELD_SKIP_SANITIZERS:-0}" = 1 ]; then
	echo "sanitizer run skipped (MODELD_SKIP_SANITIZERS=1)"
	: > "$logs/asan.out"
	st2=0
else
	make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-sanitizers 2>&1 | tee "$logs/asan.out"
	st2=$(grep -c '^# FAIL: *[1-9]\|^# ERROR: *[1-9]' "$logs/asan.out")
	grep -q '^# TOTAL:' "$logs/asan.out" || st2=1
	grep -q 'archives ready for distribution' "$logs/asan.out" || st2=1
fi

sum() { grep -h "^# $1:" "$logs/check.out" "$logs/asan.out" | awk '{s += $3} END {print s + 0}'; }
passed=$(sum PASS)
failed=$(( $(sum FAIL) + $(sum ERROR) + $(sum XPASS) ))
skipped=$(sum SKIP)
[ "$st1" = 0 ] && [ "$st2" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed, $skipped skipped"
[ "$st1" = 0 ] && [ "$st2" = 0 ]
