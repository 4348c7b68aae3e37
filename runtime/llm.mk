# runtime/llm.mk: the llama-architecture decoder (loading, KV cache, batched
# forward pass).
runtime_libmodelrt_a_SOURCES += runtime/llama.h runtime/llama_load.c runtime/llama.c \
	runtime/llama_attn.c
