# Unit tests of the daemon's config, notify and metrics modules
check_PROGRAMS += tests/unit/server/test_config
TESTS += tests/unit/server/test_config
tests_unit_server_test_config_SOURCES = tests/unit/server/test_config.c server/config.c \
	server/srv_config.h

check_PROGRAMS += tests/unit/server/test_notify
TESTS += tests/unit/server/test_notify
tests_unit_server_test_notify_SOURCES = tests/unit/server/test_notify.c server/notify.c
tests_unit_server_test_notify_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(UV_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS)

# Deployment checks: the systemd unit and the notify protocol end to end;
# nginx (etc/nginx/modeld.conf) in front of two instances.
TESTS += tests/e2e/test_systemd.sh
EXTRA_DIST += tests/e2e/test_systemd.sh tests/e2e/notify.py
TESTS += tests/e2e/test_nginx.sh
EXTRA_DIST += tests/e2e/test_nginx.sh tests/e2e/nginx.mjs

check_PROGRAMS += tests/unit/server/test_metrics
TESTS += tests/unit/server/test_metrics
tests_unit_server_test_metrics_SOURCES = tests/unit/server/test_metrics.c server/metrics.c
tests_unit_server_test_metrics_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(UV_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_server_test_metrics_LDADD = $(UV_LIBS)

check_PROGRAMS += tests/unit/server/test_batch_policy
TESTS += tests/unit/server/test_batch_policy
tests_unit_server_test_batch_policy_SOURCES = tests/unit/server/test_batch_policy.c \
	server/batch_policy.c
tests_unit_server_test_batch_policy_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(UV_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS)

# Schema-constrained JSON output: schema_cases.txt holds python3-jsonschema's
# verdicts (tests/fixtures/json/make_schema_cases.py).
check_PROGRAMS += tests/unit/server/test_json_schema
TESTS += tests/unit/server/test_json_schema
tests_unit_server_test_json_schema_SOURCES = tests/unit/server/test_json_schema.c \
	server/json_schema.c server/json_schema.h server/tojson.c
tests_unit_server_test_json_schema_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_server_test_json_schema_LDADD = $(RUNTIME_LIBS) $(JANSSON_LIBS)
EXTRA_DIST += tests/fixtures/json/make_schema_cases.py tests/fixtures/json/schema_cases.txt
# libFuzzer target (CC=clang ./configure --enable-fuzzers); not run by make check.
EXTRA_DIST += tests/fuzz/json_schema_corpus
if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz_json_schema
tests_fuzz_fuzz_json_schema_SOURCES = tests/fuzz/fuzz_json_schema.c server/json_schema.c \
	server/tojson.c runtime/json_prefix.c
tests_fuzz_fuzz_json_schema_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
tests_fuzz_fuzz_json_schema_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_json_schema_LDADD = $(JANSSON_LIBS)
endif

# Tool texts as the templates' tojson writes them: tojson_cases.txt holds
# Python's json.dumps (tests/fixtures/json/make_tojson_cases.py).
check_PROGRAMS += tests/unit/server/test_tojson
TESTS += tests/unit/server/test_tojson
tests_unit_server_test_tojson_SOURCES = tests/unit/server/test_tojson.c server/tojson.c \
	server/tojson.h
tests_unit_server_test_tojson_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_server_test_tojson_LDADD = $(JANSSON_LIBS)
EXTRA_DIST += tests/fixtures/json/make_tojson_cases.py tests/fixtures/json/tojson_cases.txt

check_PROGRAMS += tests/unit/server/test_llm_tools
TESTS += tests/unit/server/test_llm_tools
tests_unit_server_test_llm_tools_SOURCES = tests/unit/server/test_llm_tools.c \
	server/llm_tools.c server/json_schema.c server/tojson.c
tests_unit_server_test_llm_tools_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(UV_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_server_test_llm_tools_LDADD = $(CODEC_LIBS) $(RUNTIME_LIBS) $(UV_LIBS)

check_PROGRAMS += tests/unit/server/test_token_trie
TESTS += tests/unit/server/test_token_trie
tests_unit_server_test_token_trie_SOURCES = tests/unit/server/test_token_trie.c \
	server/token_trie.c server/json_schema.c server/tojson.c
tests_unit_server_test_token_trie_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_server_test_token_trie_LDADD = $(RUNTIME_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/server/test_reasoning
TESTS += tests/unit/server/test_reasoning
tests_unit_server_test_reasoning_SOURCES = tests/unit/server/test_reasoning.c \
	server/reasoning.c server/reasoning.h
EXTRA_DIST += tests/fuzz/reasoning_corpus tests/fuzz/reasoning.dict
if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz_reasoning
tests_fuzz_fuzz_reasoning_SOURCES = tests/fuzz/fuzz_reasoning.c server/reasoning.c
tests_fuzz_fuzz_reasoning_CFLAGS = $(AM_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
tests_fuzz_fuzz_reasoning_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
endif
