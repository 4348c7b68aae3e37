# Sourced by the test_*.sh wrappers: run the node script named after the
# wrapper (tests/e2e/NAME.mjs), skipping (77) when node is missing.
command -v node >/dev/null 2>&1 || { echo "SKIP: node not found"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 CLI not found (apt-get install sqlite3)"; exit 77; }
: "${top_srcdir:=.}" "${top_builddir:=.}"
export top_srcdir top_builddir
name=$(basename "$0" .sh)
exec node "$top_srcdir/tests/e2e/${name#test_}.mjs"
