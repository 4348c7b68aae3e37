# tests/kernels.mk: unit tests of tensor types and kernels, and the linear
# benchmark (built with the tree, never run by make check).
check_PROGRAMS += tests/unit/runtime/test_quant tests/unit/runtime/test_kernels
TESTS += tests/unit/runtime/test_quant tests/unit/runtime/test_kernels
tests_unit_runtime_test_quant_LDADD = $(RUNTIME_LIBS)
tests_unit_runtime_test_kernels_CFLAGS = $(AM_CFLAGS) $(OPENBLAS_CFLAGS)
tests_unit_runtime_test_kernels_LDADD = $(RUNTIME_LIBS)

noinst_PROGRAMS += tests/bench/bench_linear
tests_bench_bench_linear_CFLAGS = $(AM_CFLAGS) $(OPENBLAS_CFLAGS)
tests_bench_bench_linear_LDADD = $(RUNTIME_LIBS)
EXTRA_DIST += tests/bench/README.md
