# runtime/kernels.mk: tensor types, the worker pool and the matrix kernels.
# The SIMD files select their instruction sets per function (target
# attributes) and are only called when the CPU has them.
runtime_libmodelrt_a_SOURCES += runtime/quant.c runtime/pool.c runtime/kernels.c \
	runtime/kernels_avx2.c runtime/kernels_avx512.c runtime/kernels_kquant.c \
	runtime/kernels_impl.h runtime/kernels_q8.h
