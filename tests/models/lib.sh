# Shared by the model conformance tests: convert a fixture's ONNX file at
# each weight type, run `modelctl predict` on its request and compare the
# answer with what PyTorch computed (tests/fixtures/make_fixtures.py).
#
# A script sets MODEL (and optionally QUANTS, INTS_AT_QUANT, TOL_<quant>) and
# calls models_check. One line per quant names the measured error.
# Tolerances are relative to the output's scale (max |expected|), as the
# runtime issue states them: f32 1e-4, f16 5e-3, q8_0 2e-2, q4_0 1e-1.
# The fixtures are trained networks (make_fixtures.py), whose ideal
# weight-only quantization (`make_fixtures.py --simulate`: ggml rounding of
# the quantized constants, computed in F32) stays well under these. A script
# may raise one (TOL_q4_0=...) only where a fixture measurably cannot meet
# it; its comment then gives the measured and the simulated error.
# Integer outputs (TopK indices) must match exactly; at quantized types
# nearby scores may swap order, so there they are only reported unless
# INTS_AT_QUANT=exact.

: "${top_srcdir:=.}" "${top_builddir:=.}"
MODELCTL="$top_builddir/models/modelctl"
JSON_COMPARE="$top_builddir/tests/tools/json_compare"
FIXTURES="$top_srcdir/tests/fixtures/models"
QUANTS="${QUANTS:-f32 f16 q8_0 q4_0}"
INTS_AT_QUANT="${INTS_AT_QUANT:-report}"

models_tol() {
	eval "override=\${TOL_$1:-}"
	if [ -n "$override" ]; then
		echo "$override"
		return 0
	fi
	case "$1" in
	f32) echo 1e-4 ;;
	f16) echo 5e-3 ;;
	q8_0) echo 2e-2 ;;
	q4_0) echo 1e-1 ;;
	*) echo "unknown quant $1" >&2; return 1 ;;
	esac
}

# models_one QUANT: convert, predict, compare; prints one summary line.
# Returns 0 on pass, 1 on failure.
models_one() {
	q=$1
	tol=$(models_tol "$q") || return 1
	ints=exact
	[ "$q" = f32 ] || ints=$INTS_AT_QUANT
	gguf="$WORKDIR/$MODEL.$q.gguf"
	got="$WORKDIR/$MODEL.$q.got.json"
	if ! "$MODELCTL" convert "$FIXTURES/$MODEL.onnx" "$gguf" --quant "$q" \
		>"$WORKDIR/convert.log" 2>&1; then
		echo "$MODEL $q: FAIL convert: $(head -c 400 "$WORKDIR/convert.log")"
		return 1
	fi
	if ! "$MODELCTL" predict "$gguf" "$FIXTURES/$MODEL.request.json" \
		>"$got" 2>"$WORKDIR/predict.log"; then
		echo "$MODEL $q: FAIL predict: $(head -c 400 "$WORKDIR/predict.log")" \
			"$(head -c 400 "$got")"
		return 1
	fi
	if "$JSON_COMPARE" "$got" "$FIXTURES/$MODEL.expected.json" --tol "$tol" \
		--ints "$ints" >"$WORKDIR/compare.log" 2>&1; then
		status=pass
	else
		status=FAIL
	fi
	size=$(wc -c <"$gguf" | tr -d ' ')
	echo "$MODEL $q: $status ($(tail -n 1 "$WORKDIR/compare.log"); $size bytes)"
	sed -n '$!s/^/    /p' "$WORKDIR/compare.log"
	[ "$status" = pass ]
}

# models_check: run every quant of $MODEL; exit status 0, 1 (a failure) or
# 77 (modelctl not built).
models_check() {
	models_setup
	failed=0
	for q in $QUANTS; do
		models_one "$q" || failed=1
	done
	exit $failed
}

# models_check_shipped NAME TOL: the demo model file models/NAME.gguf answers
# its example request (models/demo/NAME.request.json) as PyTorch did.
# Returns 0 pass, 1 failure, 2 when the file is not there.
models_check_shipped() {
	gguf="$top_srcdir/models/$1.gguf"
	demo="$top_srcdir/models/demo"
	[ -f "$gguf" ] || { echo "$1: models/$1.gguf not present"; return 2; }
	got="$WORKDIR/$1.got.json"
	if ! "$MODELCTL" predict "$gguf" "$demo/$1.request.json" >"$got" \
		2>"$WORKDIR/predict.log"; then
		echo "$1 shipped: FAIL predict: $(head -c 400 "$WORKDIR/predict.log")" \
			"$(head -c 400 "$got")"
		return 1
	fi
	if "$JSON_COMPARE" "$got" "$demo/$1.expected.json" --tol "$2" \
		>"$WORKDIR/compare.log" 2>&1; then
		echo "$1 shipped: pass ($(tail -n 1 "$WORKDIR/compare.log"))"
		return 0
	fi
	echo "$1 shipped: FAIL ($(tail -n 1 "$WORKDIR/compare.log"))"
	return 1
}

# models_setup: skip (77) unless the tools are built; make WORKDIR.
models_setup() {
	if [ ! -x "$MODELCTL" ] || [ ! -x "$JSON_COMPARE" ]; then
		echo "${MODEL:-models}: skipped, modelctl or json_compare not built"
		exit 77
	fi
	WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/modeld-models.XXXXXX") || exit 1
	trap 'rm -rf "$WORKDIR"' EXIT
}
