# Recommendation backends: retrieval op, fixtures, tests, benchmark
runtime_libmodelrt_a_SOURCES += runtime/ops_retrieve.c runtime/model_inputs.c

check_PROGRAMS += tests/unit/runtime/test_retrieve
TESTS += tests/unit/runtime/test_retrieve
tests_unit_runtime_test_retrieve_LDADD = $(RUNTIME_LIBS)
models_libconvert_a_SOURCES += models/convert_recsys.c

noinst_PROGRAMS += tests/bench/bench_retrieval
tests_bench_bench_retrieval_CFLAGS = $(AM_CFLAGS) $(OPENBLAS_CFLAGS)
tests_bench_bench_retrieval_LDADD = $(RUNTIME_LIBS)

TESTS += tests/e2e/test_recsys.sh
EXTRA_DIST += tests/e2e/test_recsys.sh tests/e2e/recsys.mjs models/demo/make_recsys.py
