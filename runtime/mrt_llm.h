/* libmodelrt language models: llama-architecture GGUF files (as llama.cpp
 * writes them), their tokenizer, batched decoding over several sequences
 * with a KV cache per sequence slot, and sampling.
 * A model loaded with mrt_model_load() whose kind is MRT_MODEL_LLAMA is used
 * here; it stays immutable and shared, all per-run state lives in an
 * mrt_llm_ctx. This header includes only standard headers. */
#ifndef MRT_LLM_H
#define MRT_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "mrt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrt_llm_info {
	int n_vocab;
	int n_ctx_train; /* llama.context_length */
	int n_embd, n_layer, n_head, n_head_kv, n_ff;
	int32_t bos, eos;  /* -1 when the file has none */
	int add_bos;       /* tokenizer.ggml.add_bos_token (default 1 for spm) */
	int add_eos;       /* tokenizer.ggml.add_eos_token (default 0): embedding models */
	const char *tokenizer_model; /* "llama" or "gpt2"; borrowed */
	const char *chat_template;   /* tokenizer.chat_template or NULL; borrowed */
	uint64_t n_params;
} mrt_llm_info;

/* Fills *info (OUT). Returns 0, or MRT_ERR_INVALID for a graph model. */
int mrt_llm_info_get(const mrt_model *model, mrt_llm_info *info);

/* ---- tokenizer ---- */

/* Encode text (len bytes of UTF-8) into at most max tokens of out.
 * add_bos: prepend BOS when the model has one. parse_special: text such as
 * "<|im_start|>" that spells a special (control) token becomes that token;
 * otherwise it is encoded as plain text.
 * Returns the number of tokens (which may exceed max: then call again with a
 * larger buffer), or a negative status. */
int mrt_tokenize(const mrt_model *model, const char *text, size_t len, int add_bos,
		 int parse_special, int32_t *out, int max);

/* The bytes token tok stands for (byte-fallback tokens give their byte,
 * SentencePiece's U+2581 gives a space; control tokens give "" unless
 * render_special). May be part of a UTF-8 character. Writes at most buflen
 * bytes (no NUL); returns the full length or a negative status. */
int mrt_token_to_piece(const mrt_model *model, int32_t tok, int render_special, char *buf,
		       size_t buflen);

/* The text of n tokens as llama.cpp's llama_detokenize writes it (special
 * tokens kept): the pieces one after another, control tokens as their text
 * when render_special (else nothing), and for a SentencePiece vocabulary
 * that adds a space prefix, that space taken off the first token's piece
 * (so text without BOS comes back as it was encoded). Writes at most
 * buflen bytes (no NUL); returns the full length or a negative status
 * (MRT_ERR_INVALID for a token outside the vocabulary). */
int mrt_detokenize(const mrt_model *model, const int32_t *toks, int n, int render_special,
		   char *buf, size_t buflen);

/* 1 when tok ends generation (EOS, EOT, <|im_end|>, <|eot_id|>, ...). */
int mrt_token_is_eog(const mrt_model *model, int32_t tok);

/* Length of the longest prefix of buf[0..len) that does not end inside a
 * UTF-8 character (a streaming detokenizer emits only that much). */
size_t mrt_utf8_complete_prefix(const char *buf, size_t len);

/* ---- decoding ---- */

typedef struct mrt_llm_params {
	int n_ctx;     /* tokens per sequence slot (KV cache length), default 2048 */
	int n_seq;     /* sequence slots, default 1 */
	int n_batch;   /* most tokens in one mrt_llm_decode call, default 512 */
	int n_threads; /* default 1 */
	int kv_type;   /* KV cache elements (mrt_gguf.h): MRT_TYPE_F16 (default: half the memory and
	                  the bytes attention reads), MRT_TYPE_F32, or MRT_TYPE_Q8_0 (0.53 of F16;
	                  the model's head size must be a multiple of 32) */
} mrt_llm_params;
mrt_llm_params mrt_llm_default_params(void);

typedef struct mrt_llm_ctx mrt_llm_ctx;

/* A context with n_seq KV-cache slots of n_ctx tokens. The model must
 * outlive it. NULL with a message on failure (e.g. not a language model,
 * cache too large). */
mrt_llm_ctx *mrt_llm_ctx_new(const mrt_model *model, const mrt_llm_params *params, char *err,
			     size_t errlen);
void mrt_llm_ctx_free(mrt_llm_ctx *ctx);

/* Tokens held in slot seq's cache (its next position). */
int mrt_llm_seq_len(const mrt_llm_ctx *ctx, int seq);
/* Empty slot seq so a new sequence can use it. */
void mrt_llm_seq_clear(mrt_llm_ctx *ctx, int seq);
/* Keep the first n tokens of slot seq and forget the rest (n is clamped to
 * [0, its length]): a new sequence sharing those n tokens continues from
 * there. Its results are those of decoding the whole sequence afresh, bit
 * for bit (every value is computed the same way whatever the batch). */
void mrt_llm_seq_keep(mrt_llm_ctx *ctx, int seq, int n);
/* Make slot dst hold the first n tokens of slot src (n <= its length; dst's
 * own tokens are dropped): their keys and values are copied, so a sequence
 * that starts with them continues in dst as it would in src. 0, or
 * MRT_ERR_INVALID for a bad slot or count. */
int mrt_llm_seq_copy(mrt_llm_ctx *ctx, int dst, int src, int n);

/* One forward pass: token i (tokens[i]) is appended to sequence seq[i] at
 * that sequence's next position; tokens of one sequence appear in order.
 * Every weight matrix is read once for the whole batch. When want_logits[i]
 * is nonzero the final hidden state of entry i is kept (mrt_llm_hidden),
 * and unless it is MRT_LLM_WANT_HIDDEN its logits too (mrt_llm_logits). An
 * entry's logits are bit for bit the same whatever else is in the batch
 * and however its sequence was split into batches, on one machine and
 * kernel level (the fastest the CPU has, or the one MRT_CPU caps it at;
 * tested on the generic and AVX2 levels).
 * Returns 0; MRT_ERR_RANGE (nothing changed) when a sequence would pass
 * n_ctx or n > n_batch; MRT_ERR_INVALID for a bad token id or slot. */
typedef struct mrt_llm_batch {
	int n;
	const int32_t *tokens;
	const int32_t *seq;
	const int8_t *want_logits;
} mrt_llm_batch;
int mrt_llm_decode(mrt_llm_ctx *ctx, const mrt_llm_batch *batch, char *err, size_t errlen);

#define MRT_LLM_WANT_HIDDEN 2 /* want_logits: the hidden state without the logits */

/* Logits (n_vocab floats) of entry i of the last decode, or NULL when that
 * entry did not ask for them. Valid until the next decode or free. */
const float *mrt_llm_logits(const mrt_llm_ctx *ctx, int i);

/* The final hidden state of entry i of the last decode (n_embd floats,
 * after the output norm: what the output matrix reads, and what llama.cpp
 * pools into embeddings), or NULL when that entry asked for neither.
 * Valid until the next decode or free. */
const float *mrt_llm_hidden(const mrt_llm_ctx *ctx, int i);

/* ---- sampling ---- */

typedef struct mrt_sampler_params {
	float temperature;   /* 0 = greedy (argmax), default 0.8 */
	int top_k;           /* 0 = off, default 40 */
	float top_p;         /* 1 = off, default 0.95 */
	float min_p;         /* 0 = off, default 0.05 */
	float repeat_penalty;    /* 1 = off (llama.cpp semantics), default 1 */
	float presence_penalty;  /* 0 = off (OpenAI semantics) */
	float frequency_penalty; /* 0 = off (OpenAI semantics) */
	int penalty_last_n;      /* tokens considered by the penalties, default 64 */
	uint64_t seed;           /* same seed + same logits = same tokens */
	/* logit bias (OpenAI's logit_bias): bias[i] is added to the logit of
	 * token bias_ids[i] before the penalties; mrt_sampler_new copies both
	 * arrays. A token listed twice gets the last bias. */
	int n_bias;
	const int32_t *bias_ids;
	const float *bias;
} mrt_sampler_params;
mrt_sampler_params mrt_sampler_default_params(void);

typedef struct mrt_sampler mrt_sampler;
mrt_sampler *mrt_sampler_new(const mrt_sampler_params *params, int n_vocab);
void mrt_sampler_free(mrt_sampler *s);
/* Pick the next token from logits (n_vocab floats, not modified); the
 * penalties use the tokens passed to mrt_sampler_accept. */
int32_t mrt_sampler_sample(mrt_sampler *s, const float *logits);
void mrt_sampler_accept(mrt_sampler *s, int32_t tok);

/* mrt_sampler_sample restricted to the tokens allowed(ctx, tok) accepts
 * (nonzero): the token drawn from all logits when it is allowed (the common
 * case, one call of allowed); else the draw is repeated over the allowed
 * tokens alone, the others' logits set to -inf (as llama.cpp resamples under
 * a grammar). Which tokens are allowed comes from fill(ctx, mask), which
 * sets mask[t] (n_vocab bytes) to 1 for each and returns their number (-1:
 * failed), or when fill is NULL from asking allowed about every token.
 * Without filters (top_k, top_p, min_p off) the token follows the softmax
 * of the allowed logits exactly. Returns the token, or -1 when no token is
 * allowed. The callbacks run on the caller's thread only. */
int32_t mrt_sampler_sample_allowed(mrt_sampler *s, const float *logits,
				   int (*allowed)(void *ctx, int32_t tok),
				   int (*fill)(void *ctx, uint8_t *mask), void *ctx);

/* Log-probability of tok under logits (log-softmax), and the k most likely
 * tokens with theirs, in descending order, into ids/logprobs (OUT; k
 * entries). Returns the number written (<= k). */
float mrt_logprob(const float *logits, int n_vocab, int32_t tok);
int mrt_top_logprobs(const float *logits, int n_vocab, int k, int32_t *ids, float *logprobs);

/* ---- JSON output ----
 * Whether text can still grow into one JSON object (RFC 8259, the root an
 * object; strings valid UTF-8), fed a token's bytes at a time: a sampler
 * keeps generation such a prefix (OpenAI's response_format json_object).
 * Whitespace between tokens is at most a newline and then up to
 * MRT_JSON_MAX_INDENT spaces or tabs, and numbers have at most 16 integer
 * and 16 fraction digits and 3 exponent digits (llama.cpp's JSON grammar
 * has the same bounds), so a model cannot pad or count forever; containers
 * nest at most MRT_JSON_MAX_DEPTH deep. The states are plain values: copy
 * one to try a token. Their fields are private to the runtime. */
#define MRT_JSON_MAX_INDENT 20
#define MRT_JSON_MAX_DEPTH 64
#define MRT_JSON_MAX_INT_DIGITS 16
#define MRT_JSON_MAX_FRAC_DIGITS 16
#define MRT_JSON_MAX_EXP_DIGITS 3

/* The lexer of a string (after its opening quote) or a number, shared with
 * other JSON automata (the server's schemas). */
typedef struct mrt_json_lex {
	uint8_t mode, aux, lo, hi, integer;
} mrt_json_lex;
enum mrt_json_lex_result {
	MRT_JSON_LEX_BAD = -1, /* the byte cannot come here */
	MRT_JSON_LEX_MORE = 0, /* taken; the string or number goes on */
	MRT_JSON_LEX_END = 1,  /* taken: the string's closing quote */
	MRT_JSON_LEX_AFTER = 2 /* not taken: the number ended before it */
};
void mrt_json_lex_string(mrt_json_lex *x);
/* Start a number at its first byte c ('-' or a digit); integer: no
 * fraction or exponent. MRT_JSON_LEX_MORE or MRT_JSON_LEX_BAD. */
int mrt_json_lex_number(mrt_json_lex *x, unsigned c, int integer);
int mrt_json_lex_step(mrt_json_lex *x, unsigned c);
/* 1 when c is a plain byte inside a string (mode 0: no quote, backslash,
 * control or non-ASCII byte), which mrt_json_lex_step would just take: the
 * automata's common case, inline. */
static inline int mrt_json_lex_in_string(const mrt_json_lex *x)
{
	return x->mode == 0;
}
static inline int mrt_json_lex_plain(const mrt_json_lex *x, unsigned c)
{
	return mrt_json_lex_in_string(x) && c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Whitespace between tokens; *w holds the run so far. 1: c is whitespace
 * that may come here (taken); 0: c is no whitespace (*w starts afresh);
 * MRT_JSON_LEX_BAD: whitespace that may not come. */
typedef struct mrt_json_space {
	uint8_t indent, newline;
} mrt_json_space;
int mrt_json_space_step(mrt_json_space *w, unsigned c);

typedef struct mrt_json_state {
	uint64_t objects; /* bit d: the container at depth d is an object */
	uint8_t depth, mode, aux, key;
	mrt_json_space space;
	mrt_json_lex lex;
} mrt_json_state;
void mrt_json_init(mrt_json_state *st);
/* Feed n bytes: 0 when the text is still such a prefix (*st advanced), or
 * MRT_ERR_INVALID when it no longer is (*st then undefined: feed a copy). */
int mrt_json_feed(mrt_json_state *st, const char *s, size_t n);
/* 1 when the root object has closed (only whitespace may follow). */
int mrt_json_done(const mrt_json_state *st);
/* 1 when *st is inside a string, where every plain byte (mrt_json_lex_plain)
 * is taken and leaves the state as it is: a walk over many tokens can skip
 * copying the state for them. */
int mrt_json_in_string(const mrt_json_state *st);

#ifdef __cplusplus
}
#endif
#endif
