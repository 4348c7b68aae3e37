#!/bin/sh
# End-to-end: see tests/e2e/recsys.mjs.
. "${top_srcdir:-.}/tests/e2e/run.sh"
