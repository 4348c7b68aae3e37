# runtime/tokenizer.mk: tokenizers (SentencePiece BPE, byte-level BPE) and the sampler
# with its JSON prefix automaton.
runtime_libmodelrt_a_SOURCES += runtime/tokenizer.h runtime/tokenizer_impl.h \
	runtime/tokenizer_unicode_data.h runtime/tokenizer_punct_data.h \
	runtime/tokenizer.c runtime/tokenizer_encode.c \
	runtime/tokenizer_spm.c runtime/tokenizer_bpe.c runtime/tokenizer_unicode.c \
	runtime/tokenizer_api.c runtime/sampler.c \
	runtime/json_prefix.c
