/* The shipped demo chat model (models/chat.gguf): its ChatML prompts
 * tokenize to the ids the training script's tokenizer gave, and greedy
 * decoding reproduces the tokens PyTorch generated with the same Q8_0
 * weights (models/demo/chat.expected.json, written by make_chat.py). */
#include <jansson.h>
#include <stdint.h>

#include "mrt.h"
#include "mrt_llm.h"
#include "test.h"

static void check_prompt(const mrt_model *m, mrt_llm_ctx *ctx, json_t *item, int n_vocab)
{
	const char *prompt = json_string_value(json_object_get(item, "prompt"));
	json_t *ids = json_object_get(item, "prompt_ids");
	json_t *want = json_object_get(item, "greedy_q8_0");
	char text[1024];
	int32_t toks[512];
	size_t i;

	CHECK(prompt && json_is_array(ids) && json_is_array(want));
	if (!prompt || !json_is_array(ids) || !json_is_array(want))
		return;
	snprintf(text, sizeof text, "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n",
		 prompt);
	int n = mrt_tokenize(m, text, strlen(text), 1, 1, toks, 512);
	CHECK_EQ_INT(n, json_array_size(ids));
	for (i = 0; i < json_array_size(ids) && (int)i < n; i++)
		CHECK_EQ_INT(toks[i], json_integer_value(json_array_get(ids, i)));

	/* Decode from the expected prompt ids, so a tokenizer fault above does
	 * not hide the decoder's result. */
	n = (int)json_array_size(ids);
	int32_t seq[512];
	int8_t want_logits[512];
	for (i = 0; i < (size_t)n; i++) {
		toks[i] = (int32_t)json_integer_value(json_array_get(ids, i));
		seq[i] = 0;
		want_logits[i] = i + 1 == (size_t)n;
	}
	mrt_llm_seq_clear(ctx, 0);
	mrt_llm_batch b = {n, toks, seq, want_logits};
	char err[256];
	CHECK_EQ_INT(mrt_llm_decode(ctx, &b, err, sizeof err), 0);
	for (i = 0; i < json_array_size(want); i++) {
		const float *lg = mrt_llm_logits(ctx, b.n - 1);
		CHECK(lg != NULL);
		if (!lg)
			return;
		int32_t best = 0;
		for (int v = 1; v < n_vocab; v++)
			if (lg[v] > lg[best])
				best = v;
		CHECK_EQ_INT(best, json_integer_value(json_array_get(want, i)));
		if (best != json_integer_value(json_array_get(want, i)))
			return;
		mrt_llm_batch step = {1, &best, seq, want_logits + n - 1};
		if (i + 1 < json_array_size(want))
			CHECK_EQ_INT(mrt_llm_decode(ctx, &step, err, sizeof err), 0);
		b = step;
	}
	/* The last expected token ends the turn. */
	CHECK(mrt_token_is_eog(m, (int32_t)json_integer_value(
				       json_array_get(want, json_array_size(want) - 1))));
}

int main(void)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	char path[1024], jpath[1024], err[512];
	snprintf(path, sizeof path, "%s/models/chat.gguf", top);
	snprintf(jpath, sizeof jpath, "%s/models/demo/chat.expected.json", top);

	mrt_model *m = mrt_model_load(path, NULL, err, sizeof err);
	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		TEST_END();
	}
	mrt_llm_info info;
	CHECK_EQ_INT(mrt_llm_info_get(m, &info), 0);
	CHECK_EQ_INT(info.n_vocab, 3072);
	CHECK(info.chat_template != NULL && strstr(info.chat_template, "<|im_start|>"));

	mrt_llm_params p = mrt_llm_default_params();
	p.n_ctx = 256;
	mrt_llm_ctx *ctx = mrt_llm_ctx_new(m, &p, err, sizeof err);
	CHECK(ctx != NULL);
	json_error_t jerr;
	json_t *root = json_load_file(jpath, 0, &jerr);
	CHECK(json_is_array(root) && json_array_size(root) >= 3);
	for (size_t i = 0; ctx && i < json_array_size(root); i++)
		check_prompt(m, ctx, json_array_get(root, i), info.n_vocab);
	json_decref(root);
	mrt_llm_ctx_free(ctx);
	mrt_model_free(m);
	TEST_END();
}
