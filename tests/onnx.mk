# tests/onnx.mk: the ONNX decoder and converter tests, and the decoder's
# libFuzzer target (./configure CC=clang --enable-fuzzers).
check_PROGRAMS += tests/unit/models/test_onnx
TESTS += tests/unit/models/test_onnx
tests_unit_models_test_onnx_SOURCES = tests/unit/models/test_onnx.c
tests_unit_models_test_onnx_LDADD = $(CONVERT_LIBS) -lm

EXTRA_DIST += tests/fuzz/onnx_corpus

check_PROGRAMS += tests/unit/models/test_convert
TESTS += tests/unit/models/test_convert
tests_unit_models_test_convert_SOURCES = tests/unit/models/test_convert.c
tests_unit_models_test_convert_LDADD = $(CONVERT_LIBS) $(RUNTIME_LIBS)

EXTRA_DIST += tests/fixtures/make_onnx_unit.py tests/fixtures/onnx_unit

# Run: tests/fuzz/fuzz_onnx -max_total_time=60 NEW_DIR $(top_srcdir)/tests/fuzz/onnx_corpus
# (new inputs go to the first directory; keep the checked-in seeds small).
if FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz_onnx
tests_fuzz_fuzz_onnx_SOURCES = tests/fuzz/fuzz_onnx.c models/onnx.c models/onnx_wire.c
tests_fuzz_fuzz_onnx_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_onnx_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
endif
