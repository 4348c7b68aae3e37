#!/bin/sh
# End-to-end: see tests/e2e/logdb.mjs.
. "${top_srcdir:-.}/tests/e2e/run.sh"
