/* Internal: the tokenizer of a language model, built once from the file's
 * tokenizer.ggml.* keys at model load and immutable afterwards (shared by all
 * threads). The public entry points are in mrt_llm.h; the engines live in
 * tokenizer_spm.c (SentencePiece BPE), tokenizer_bpe.c (byte-level BPE) and
 * tokenizer_unicode.c (code point classes and the pre-tokenizers). */
#ifndef MRT_TOKENIZER_H
#define MRT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "mrt.h"
#include "mrt_gguf.h"

typedef struct mrt__tokenizer mrt__tokenizer;

/* Build the tokenizer from g's tokenizer.ggml.* keys. Everything needed is
 * copied, so g may be closed afterwards. Returns a new tokenizer, or NULL with
 * a message in err (no vocabulary, unknown tokenizer.ggml.model, bad ids,
 * out of memory). */
mrt__tokenizer *mrt__tokenizer_load(const mrt_gguf *g, char *err, size_t errlen);
void mrt__tokenizer_free(mrt__tokenizer *tok);

/* The tokenizer of a language model: implemented in model.c by the llama
 * loader (which stores the result of mrt__tokenizer_load in the model).
 * NULL for a graph model. */
const mrt__tokenizer *mrt__model_tokenizer(const mrt_model *m);

/* Same contracts as mrt_tokenize / mrt_token_to_piece / mrt_token_is_eog /
 * mrt_detokenize. */
int mrt__tokenize(const mrt__tokenizer *tok, const char *text, size_t len, int add_bos,
                  int parse_special, int32_t *out, int max);
int mrt__token_to_piece(const mrt__tokenizer *tok, int32_t id, int render_special, char *buf,
                        size_t buflen);
int mrt__token_is_eog(const mrt__tokenizer *tok, int32_t id);
int mrt__detokenize(const mrt__tokenizer *tok, const int32_t *ids, int n, int render_special,
                    char *buf, size_t buflen);

/* Facts for mrt_llm_info. Strings are borrowed and live as long as tok. */
int mrt__tokenizer_n_vocab(const mrt__tokenizer *tok);
int32_t mrt__tokenizer_bos(const mrt__tokenizer *tok); /* -1 when none */
int32_t mrt__tokenizer_eos(const mrt__tokenizer *tok); /* -1 when none */
int mrt__tokenizer_add_bos(const mrt__tokenizer *tok);
const char *mrt__tokenizer_model_name(const mrt__tokenizer *tok); /* "llama" / "gpt2" */

#endif
