# tests/tokenizer.mk: tokenizer, sampler and chat template tests.
# Fixtures: tests/fixtures/make_tokenizer_fixtures.py and make_chat_fixtures.py made them;
# tests/fixtures/tokenizer/pre.mjs the llama.cpp ids of the pre-tokenizers (pre.*.out,
# gpt2-encoder.*.out), make_splits.py their regexes' word splits (splits.*.out),
# make_unicode_punct.py the \p{P} ranges of runtime/tokenizer_punct_data.h; detok.mjs
# llama.cpp's detokenized texts (*.detok; vocab_pre.mjs swaps a vocabulary's pre).
check_PROGRAMS += tests/unit/runtime/test_tokenizer
TESTS += tests/unit/runtime/test_tokenizer
tests_unit_runtime_test_tokenizer_LDADD = $(RUNTIME_LIBS)

EXTRA_DIST += tests/fixtures/make_tokenizer_fixtures.py tests/fixtures/tokenizer/gpt2.mjs \
	tests/fixtures/tokenizer/package.json tests/fixtures/tokenizer/package-lock.json \
	tests/fixtures/tokenizer/spm-small.gguf tests/fixtures/tokenizer/spm-small.inp \
	tests/fixtures/tokenizer/spm-small.out tests/fixtures/tokenizer/gpt2-encoder.inp \
	tests/fixtures/tokenizer/gpt2-encoder.out tests/fixtures/tokenizer/pre.mjs \
	tests/fixtures/tokenizer/pre.inp tests/fixtures/tokenizer/pre.llama-bpe.out \
	tests/fixtures/tokenizer/pre.smollm.out tests/fixtures/tokenizer/gpt2-encoder.llama-bpe.out \
	tests/fixtures/tokenizer/gpt2-encoder.smollm.out tests/fixtures/tokenizer/pre.tekken.out \
	tests/fixtures/tokenizer/gpt2-encoder.tekken.out tests/fixtures/tokenizer/make_splits.py \
	tests/fixtures/tokenizer/splits.gpt-2.out tests/fixtures/tokenizer/splits.llama-bpe.out \
	tests/fixtures/tokenizer/splits.smollm.out tests/fixtures/tokenizer/splits.tekken.out \
	tests/fixtures/tokenizer/pre.deepseek-llm.out tests/fixtures/tokenizer/pre.deepseek-coder.out \
	tests/fixtures/tokenizer/gpt2-encoder.deepseek-llm.out \
	tests/fixtures/tokenizer/gpt2-encoder.deepseek-coder.out \
	tests/fixtures/tokenizer/splits.deepseek-llm.out \
	tests/fixtures/tokenizer/splits.deepseek-coder.out \
	tests/fixtures/tokenizer/make_unicode_punct.py tests/fixtures/tokenizer/detok.mjs \
	tests/fixtures/tokenizer/vocab_pre.mjs tests/fixtures/tokenizer/spm-small.detok \
	tests/fixtures/tokenizer/llama-spm.detok tests/fixtures/tokenizer/gpt-2.detok \
	tests/fixtures/tokenizer/gpt-2.llama-bpe.detok tests/fixtures/tokenizer/gpt-2.smollm.detok

check_PROGRAMS += tests/unit/runtime/test_sampler
TESTS += tests/unit/runtime/test_sampler
tests_unit_runtime_test_sampler_LDADD = $(RUNTIME_LIBS)

# Chat templates: plain C in the codec library, which modeld and modelctl link.
server_libcodec_a_SOURCES += server/chat_template.h server/chat_template.c
check_PROGRAMS += tests/unit/server/test_chat_template
TESTS += tests/unit/server/test_chat_template
tests_unit_server_test_chat_template_LDADD = $(CODEC_LIBS)
EXTRA_DIST += tests/fixtures/make_chat_fixtures.py tests/fixtures/chat

# The JSON output automaton: cases.txt holds Python's json verdicts (make_cases.py).
check_PROGRAMS += tests/unit/runtime/test_json_prefix
TESTS += tests/unit/runtime/test_json_prefix
tests_unit_runtime_test_json_prefix_LDADD = $(RUNTIME_LIBS)
EXTRA_DIST += tests/fixtures/json/make_cases.py tests/fixtures/json/cases.txt
