#!/bin/sh
# End-to-end: see tests/e2e/llm.mjs. Needs the `openai` npm client pinned in
# tests/e2e/package-lock.json: installed here with `npm ci` when missing.
d="${top_srcdir:-.}/tests/e2e"
if [ ! -d "$d/node_modules/openai" ]; then
	command -v npm >/dev/null 2>&1 || { echo "SKIP: npm not found"; exit 77; }
	(cd "$d" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		{ echo "SKIP: npm ci failed in $d (offline or read-only)"; exit 77; }
fi
. "$d/run.sh"
