# Shared by the recommendation fixture tests: paths, the tolerances of
# tests/models/lib.sh, and small assertions. The fixtures come from
# tests/fixtures/make_recsys_fixtures.py (PyTorch references).

: "${top_srcdir:=.}" "${top_builddir:=.}"
. "$top_srcdir/tests/models/lib.sh"
RECSYS="$top_srcdir/tests/fixtures/recsys"
failed=0

# pass MSG / fail MSG: one line per check; fail marks the test failed.
pass() { echo "pass: $*"; }
fail() { echo "FAIL: $*"; failed=1; }

# convert NAME QUANT [OPTIONS...]: tests/fixtures/recsys/NAME.onnx ->
# $WORKDIR/NAME.QUANT.gguf; prints the converter's error on failure.
convert() {
	name=$1 q=$2
	shift 2
	if ! "$MODELCTL" convert "$RECSYS/$name.onnx" "$WORKDIR/$name.$q.gguf" --quant "$q" "$@" \
		>"$WORKDIR/convert.log" 2>&1; then
		fail "convert $name $q: $(head -c 400 "$WORKDIR/convert.log")"
		return 1
	fi
}

# compare GGUF REQUEST QUANT [INTS]: predict REQUEST (a file under
# tests/fixtures/recsys, without .request.json) on GGUF and compare with
# REQUEST.expected.json at the tolerance of QUANT; INTS is exact or report.
compare() {
	gguf=$1 req=$2 q=$3 ints=${4:-exact}
	got="$WORKDIR/$req.$q.got.json"
	if ! "$MODELCTL" predict "$gguf" "$RECSYS/$req.request.json" >"$got" \
		2>"$WORKDIR/predict.log"; then
		fail "$req $q: predict: $(head -c 400 "$WORKDIR/predict.log")"
		return 1
	fi
	if "$JSON_COMPARE" "$got" "$RECSYS/$req.expected.json" --tol "$(models_tol "$q")" \
		--ints "$ints" >"$WORKDIR/compare.log" 2>&1; then
		pass "$req $q ($(tail -n 1 "$WORKDIR/compare.log"))"
	else
		fail "$req $q ($(tail -n 1 "$WORKDIR/compare.log"))"
		sed -n '$!s/^/    /p' "$WORKDIR/compare.log"
	fi
}

# refused WHAT EXPECTED_STDERR CMD...: CMD must exit 1 and its stderr must
# be exactly EXPECTED_STDERR (after the "modelctl: error: " prefix).
refused() {
	what=$1 want=$2
	shift 2
	if "$@" >"$WORKDIR/out.json" 2>"$WORKDIR/err.log"; then
		fail "$what: accepted: $(head -c 300 "$WORKDIR/out.json")"
		return 1
	fi
	got=$(sed 's/^modelctl: error: //' "$WORKDIR/err.log")
	if [ "$got" = "$want" ]; then
		pass "$what: $got"
	else
		fail "$what: stderr '$got', expected '$want'"
	fi
}
