#!/bin/sh
# The shipped demo models (models/regression.gguf, models/digits.gguf) answer
# their example requests as PyTorch did (both files hold F32 weights).
. "${top_srcdir:-.}/tests/models/lib.sh"
models_setup
failed=0
for name in regression digits; do
	models_check_shipped "$name" 1e-4 || failed=1
done
exit $failed
