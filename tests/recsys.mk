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
EXTRA_DIST += tests/e2e/test_recsys.sh tests/e2e/recsys.mjs models/demo/make_recsys.py \
	models/recsys.gguf models/demo/recsys.request.json models/demo/recsys.metrics.json \
	tests/bench/http/retrieval.sh

# PyTorch fixtures (tests/fixtures/make_recsys_fixtures.py): ranking with a
# masked-mean history and broadcast candidates, two-tower retrieval with
# exclusions and Q8_0 recall, and the edge cases through modelctl predict.
RECSYS_TESTS = tests/recsys/ranking.sh tests/recsys/retrieval.sh tests/recsys/edge_cases.sh
TESTS += $(RECSYS_TESTS)
EXTRA_DIST += $(RECSYS_TESTS) tests/recsys/lib.sh tests/fixtures/make_recsys_fixtures.py \
	tests/fixtures/recsys/ranking.onnx \
	tests/fixtures/recsys/ranking.request.json \
	tests/fixtures/recsys/ranking.expected.json \
	tests/fixtures/recsys/ranking_ragged.request.json \
	tests/fixtures/recsys/ranking_ragged.expected.json \
	tests/fixtures/recsys/ranking_empty.request.json \
	tests/fixtures/recsys/ranking_empty.expected.json \
	tests/fixtures/recsys/retrieval.onnx \
	tests/fixtures/recsys/retrieval.request.json \
	tests/fixtures/recsys/retrieval.expected.json \
	tests/fixtures/recsys/retrieval_many.request.json \
	tests/fixtures/recsys/retrieval_many.expected.json \
	tests/fixtures/recsys/retrieval_many.heldout.json \
	tests/fixtures/recsys/knn_k100.onnx
