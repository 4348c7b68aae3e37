# models/modelctl.mk: the modelctl command-line tool.
bin_PROGRAMS += models/modelctl
models_modelctl_SOURCES = models/modelctl.c models/modelctl.h models/modelctl_inspect.c \
	models/modelctl_run.c
models_modelctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
models_modelctl_LDADD = models/libconvert.a $(CODEC_LIBS) $(RUNTIME_LIBS)

# End to end on a converted fixture (uses tests/tools/json_compare).
TESTS += tests/unit/models/test_modelctl.sh
EXTRA_DIST += tests/unit/models/test_modelctl.sh

# The runtime benchmark (tests/bench/README.md): never run by make check;
# `make tests/bench/bench_models` builds the kernel GFLOP/s program.
EXTRA_PROGRAMS = tests/bench/bench_models
tests_bench_bench_models_SOURCES = tests/bench/bench_models.c
tests_bench_bench_models_CFLAGS = $(AM_CFLAGS) $(OPENBLAS_CFLAGS)
tests_bench_bench_models_LDADD = $(RUNTIME_LIBS)
CLEANFILES += tests/bench/bench_models
EXTRA_DIST += tests/bench/README.md tests/bench/run_bench.sh tests/bench/ort_bench.js \
	tests/bench/package.json tests/bench/package-lock.json
