# tests of the neural-network operators, against reference data made by
# tests/fixtures/make_op_fixtures.py
check_PROGRAMS += tests/unit/runtime/test_ops_nn tests/unit/runtime/test_ops_rnn \
	tests/unit/runtime/test_ops_reduce
TESTS += tests/unit/runtime/test_ops_nn tests/unit/runtime/test_ops_rnn \
	tests/unit/runtime/test_ops_reduce
tests_unit_runtime_test_ops_nn_SOURCES = tests/unit/runtime/test_ops_nn.c \
	tests/unit/runtime/ops_fixture.h
tests_unit_runtime_test_ops_nn_LDADD = $(RUNTIME_LIBS)
tests_unit_runtime_test_ops_rnn_SOURCES = tests/unit/runtime/test_ops_rnn.c \
	tests/unit/runtime/ops_fixture.h
tests_unit_runtime_test_ops_rnn_LDADD = $(RUNTIME_LIBS)
tests_unit_runtime_test_ops_reduce_SOURCES = tests/unit/runtime/test_ops_reduce.c \
	tests/unit/runtime/ops_fixture.h
tests_unit_runtime_test_ops_reduce_LDADD = $(RUNTIME_LIBS)
EXTRA_DIST += tests/fixtures/make_op_fixtures.py tests/fixtures/ops/nn.bin \
	tests/fixtures/ops/rnn.bin tests/fixtures/ops/reduce.bin
