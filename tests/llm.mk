# tests/llm.mk: the llama decoder against its PyTorch reference
# (tests/fixtures/make_llama.py writes the fixtures), and its benchmark
# (built with the tree, never run by make check).
check_PROGRAMS += tests/unit/runtime/test_llama
TESTS += tests/unit/runtime/test_llama
tests_unit_runtime_test_llama_LDADD = $(RUNTIME_LIBS)
EXTRA_DIST += tests/fixtures/make_llama.py tests/fixtures/llama/hd-f32.gguf \
	tests/fixtures/llama/hd.ref tests/fixtures/llama/hd-kvf16.ref tests/fixtures/llama/gqa-f32.gguf \
	tests/fixtures/llama/gqa-q8_0.gguf tests/fixtures/llama/gqa-q4_0.gguf \
	tests/fixtures/llama/gqa.ref tests/fixtures/llama/gqa-q8_0.ref \
	tests/fixtures/llama/gqa-q4_0.ref tests/fixtures/llama/tied-f32.gguf \
	tests/fixtures/llama/tied.ref tests/fixtures/llama/mha-f32.gguf \
	tests/fixtures/llama/mha-q8_0.gguf tests/fixtures/llama/mha.ref \
	tests/fixtures/llama/mha-q8_0.ref \
	tests/fixtures/llama/kq-f16.gguf tests/fixtures/llama/kq.ref \
	tests/fixtures/llama/rope-f32.gguf tests/fixtures/llama/rope.ref \
	tests/fixtures/llama/gqa-kvf16.ref tests/fixtures/llama/tied-kvf16.ref \
	tests/fixtures/llama/mha-kvf16.ref tests/fixtures/llama/rope-kvf16.ref \
	tests/fixtures/make_llamacpp_refs.mjs tests/fixtures/llama/gqa-f32.llamacpp \
	tests/fixtures/llama/gqa-q8_0.llamacpp tests/fixtures/llama/gqa-q4_0.llamacpp \
	tests/fixtures/llama/tied-f32.llamacpp tests/fixtures/llama/mha-f32.llamacpp \
	tests/fixtures/llama/mha-q8_0.llamacpp tests/fixtures/llama/rope-f32.llamacpp \
	tests/fixtures/llama/kq-f16.llamacpp tests/fixtures/llama/chat.llamacpp \
	tests/fixtures/llama/kq-q4_k_m.gguf tests/fixtures/llama/kq-q4_k_m.llamacpp \
	tests/fixtures/llama/kq-q5_k_m.gguf tests/fixtures/llama/kq-q5_k_m.llamacpp \
	tests/fixtures/llama/kq-q6_k.gguf tests/fixtures/llama/kq-q6_k.llamacpp \
	tests/fixtures/make_embd_refs.py tests/fixtures/llama/gqa.embd.json

noinst_PROGRAMS += tests/bench/bench_llama
tests_bench_bench_llama_LDADD = $(RUNTIME_LIBS)
EXTRA_DIST += tests/bench/bench_llama.sh tests/bench/llama_peer/llama_peer.mjs \
	tests/bench/llama_peer/package.json tests/bench/llama_peer/package-lock.json
check_PROGRAMS += tests/unit/runtime/test_llama_attn
TESTS += tests/unit/runtime/test_llama_attn
tests_unit_runtime_test_llama_attn_LDADD = $(RUNTIME_LIBS)
