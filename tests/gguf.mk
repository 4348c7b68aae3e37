# tests/gguf.mk: the GGUF reader/writer tests and its fuzzer
check_PROGRAMS += tests/unit/runtime/test_gguf
TESTS += tests/unit/runtime/test_gguf
tests_unit_runtime_test_gguf_LDADD = $(RUNTIME_LIBS)
