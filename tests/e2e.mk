# tests/e2e.mk: end-to-end tests of modeld. Each starts the real daemon on a
# free loopback port from a generated config with a temporary database.
E2E_TESTS = tests/e2e/test_api.sh tests/e2e/test_load.sh tests/e2e/test_lifecycle.sh \
	tests/e2e/test_logdb.sh tests/e2e/test_llm.sh
TESTS += $(E2E_TESTS)
EXTRA_DIST += $(E2E_TESTS) tests/e2e/run.sh tests/e2e/lib.mjs tests/e2e/api.mjs \
	tests/e2e/load.mjs tests/e2e/lifecycle.mjs tests/e2e/logdb.mjs \
	tests/e2e/llm.mjs tests/e2e/package.json tests/e2e/package-lock.json \
	tests/bench/llm_http.sh tests/bench/llm_http.mjs tests/bench/llm_wrk.sh \
	tests/bench/prompt_cache.sh \
	tests/bench/prompt_cache.mjs tests/bench/serve.mjs tests/bench/embed_bench.sh \
	tests/bench/embed_bench.mjs \
	tests/bench/http/run.sh tests/bench/http/paired.sh tests/bench/http/lib.sh \
	tests/bench/http/post.lua tests/bench/http/stream.lua \
	tests/bench/http/nginx-static.conf \
	tests/bench/http/README.md
EXTRA_DIST += tests/e2e/llama_gguf.mjs

# The fast predict-body path against the general JSON codec.
check_PROGRAMS += tests/unit/server/test_predict_fast
TESTS += tests/unit/server/test_predict_fast
tests_unit_server_test_predict_fast_SOURCES = tests/unit/server/test_predict_fast.c \
	server/predict_fast.c server/predict_fast.h
tests_unit_server_test_predict_fast_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_server_test_predict_fast_LDADD = $(CODEC_LIBS) $(RUNTIME_LIBS)
