#!/bin/sh
# The whole test suite: `make check` in the configured tree, then the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer from the
# distribution tarball (`make distcheck --enable-sanitizers`), then the
# daemon's end-to-end tests against a ThreadSanitizer build (--enable-tsan,
# stopping at the first race), then one line "N passed, N failed, N skipped"
# summing the three runs. Exit 0 only if all pass.
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

# The threads of the daemon (loop, workers, LLM schedulers, log writer)
# under ThreadSanitizer: a race ends modeld at once, and the test fails.
TSAN_TESTS="tests/e2e/test_api.sh tests/e2e/test_llm.sh tests/e2e/test_load.sh \
tests/e2e/test_logdb.sh tests/e2e/test_lifecycle.sh tests/e2e/test_recsys.sh"
if [ "${MODELD_SKIP_SANITIZERS:-0}" = 1 ]; then
	: > "$logs/tsan.out"
	st3=0
else
	# from the tarball distcheck just made (this tree may be configured in
	# place, which rules out a second build beside it)
	src=$(pwd)
	tarball=$(ls -t modeld-*.tar.gz 2>/dev/null | head -n 1)
	mkdir "$logs/tsan" &&
		(set -e
		[ -n "$tarball" ] || { echo "no distribution tarball for the ThreadSanitizer run"; exit 1; }
		tar -xzf "$tarball" -C "$logs/tsan"
		cd "$logs/tsan"/modeld-*
		[ ! -d "$src/tests/e2e/node_modules" ] ||
			ln -s "$src/tests/e2e/node_modules" tests/e2e/node_modules
		./configure -q --enable-tsan
		make -j"$jobs" server/modeld models/modelctl
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
			make check-TESTS TESTS="$TSAN_TESTS") 2>&1 | tee "$logs/tsan.out"
	st3=$(grep -c '^# FAIL: *[1-9]\|^# ERROR: *[1-9]' "$logs/tsan.out")
	grep -q '^# TOTAL:' "$logs/tsan.out" || st3=1
fi

sum() { grep -h "^# $1:" "$logs/check.out" "$logs/asan.out" "$logs/tsan.out" | awk '{s += $3} END {print s + 0}'; }
passed=$(sum PASS)
failed=$(( $(sum FAIL) + $(sum ERROR) + $(sum XPASS) ))
skipped=$(sum SKIP)
[ "$st1" = 0 ] && [ "$st2" = 0 ] && [ "$st3" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed, $skipped skipped"
[ "$st1" = 0 ] && [ "$st2" = 0 ] && [ "$st3" = 0 ]
