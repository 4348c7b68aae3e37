# Neural-network operators: convolution, pooling, normalization, RNNs, reductions.
runtime_libmodelrt_a_SOURCES += runtime/ops_nn.c runtime/ops_rnn.c runtime/ops_reduce.c \
	runtime/ops_conv.c runtime/ops_window.c runtime/ops_window.h
