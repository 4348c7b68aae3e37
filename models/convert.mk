# models/convert.mk: the ONNX reader and the ONNX -> graph GGUF converter,
# built as a library that modelctl links.
noinst_LIBRARIES += models/libconvert.a
models_libconvert_a_SOURCES = models/onnx.h models/onnx_wire.h models/onnx_wire.c \
	models/onnx.c models/convert.h models/convert_int.h models/convert.c \
	models/convert_import.c models/convert_fuse.c models/convert_quant.c
models_libconvert_a_CFLAGS = $(AM_CFLAGS)
CONVERT_LIBS = models/libconvert.a
