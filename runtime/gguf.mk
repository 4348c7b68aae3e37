# runtime/gguf.mk: the GGUF reader and writer
runtime_libmodelrt_a_SOURCES += runtime/gguf.c runtime/gguf_write.c runtime/gguf_impl.h
