# Graph models: file format, operators owned here, model API and executor.
runtime_libmodelrt_a_SOURCES += runtime/graph_io.c runtime/ops_common.c \
	runtime/ops_elementwise.c runtime/ops_shape.c runtime/ops_linear.c \
	runtime/model.c runtime/exec.c runtime/model_impl.h \
	runtime/util.c runtime/util.h
EXTRA_DIST += runtime/GRAPH-FORMAT.md
