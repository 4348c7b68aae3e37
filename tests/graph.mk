# tests/graph.mk: operators owned by the executor, graph files and the executor
check_PROGRAMS += tests/unit/runtime/test_ops_basic tests/unit/runtime/test_graph
TESTS += tests/unit/runtime/test_ops_basic tests/unit/runtime/test_graph
tests_unit_runtime_test_ops_basic_LDADD = $(RUNTIME_LIBS)
tests_unit_runtime_test_graph_LDADD = $(RUNTIME_LIBS)
check_PROGRAMS += tests/unit/runtime/test_plan_cache
TESTS += tests/unit/runtime/test_plan_cache
tests_unit_runtime_test_plan_cache_LDADD = $(RUNTIME_LIBS)
