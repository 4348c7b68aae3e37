# tests/gguf.mk: the GGUF reader/writer tests and its fuzzer
check_PROGRAMS += tests/unit/runtime/test_gguf
TESTS += tests/unit/runtime/test_gguf
tests_unit_runtime_test_gguf_LDADD = $(RUNTIME_LIBS)

# libFuzzer target (CC=clang ./configure --enable-fuzzers); not run by make check.
# The reader, the writer and the type table are compiled in with the fuzzer's
# instrumentation, so the target does not need the rest of libmodelrt.
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/gguf_corpus
if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz_gguf
tests_fuzz_fuzz_gguf_SOURCES = tests/fuzz/fuzz_gguf.c runtime/gguf.c runtime/gguf_write.c \
	runtime/quant.c
tests_fuzz_fuzz_gguf_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
tests_fuzz_fuzz_gguf_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_gguf_LDADD = -lm
endif
