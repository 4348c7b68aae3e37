/* The public tokenizer calls of mrt_llm.h: find the model's tokenizer and
 * hand over to the internal ones (tokenizer_encode.c). */
#include "mrt_llm.h"
#include "tokenizer.h"

int mrt_tokenize(const mrt_model *model, const char *text, size_t len, int add_bos,
                 int parse_special, int32_t *out, int max)
{
	const mrt__tokenizer *t = model ? mrt__model_tokenizer(model) : NULL;

	if (t == NULL)
		return MRT_ERR_INVALID;
	return mrt__tokenize(t, text, len, add_bos, parse_special, out, max);
}

int mrt_token_to_piece(const mrt_model *model, int32_t tok, int render_special, char *buf,
                       size_t buflen)
{
	const mrt__tokenizer *t = model ? mrt__model_tokenizer(model) : NULL;

	if (t == NULL)
		return MRT_ERR_INVALID;
	return mrt__token_to_piece(t, tok, render_special, buf, buflen);
}

int mrt_token_is_eog(const mrt_model *model, int32_t tok)
{
	const mrt__tokenizer *t = model ? mrt__model_tokenizer(model) : NULL;

	return t != NULL && mrt__token_is_eog(t, tok);
}

int mrt_detokenize(const mrt_model *model, const int32_t *toks, int n, int render_special,
                   char *buf, size_t buflen)
{
	const mrt__tokenizer *t = model ? mrt__model_tokenizer(model) : NULL;

	if (t == NULL)
		return MRT_ERR_INVALID;
	return mrt__detokenize(t, toks, n, render_special, buf, buflen);
}
