/* Private to runtime/tokenizer*.c: the tokenizer's tables, the symbol list
 * and bigram heap shared by the SentencePiece and byte-level BPE engines, and
 * the Unicode helpers of the pre-tokenizers. */
#ifndef MRT_TOKENIZER_IMPL_H
#define MRT_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

enum mrt__tok_type { MRT__TOK_SPM = 0, MRT__TOK_BPE = 1 };

/* Pre-tokenizer regexes of byte-level BPE vocabularies (tokenizer.ggml.pre):
 * GPT-2's; Llama 3's; SmolLM's, which splits off every digit (\p{N})
 * before GPT-2's regex runs on the text between them; Mistral's tekken,
 * which splits words at lower-to-upper case changes; and DeepSeek LLM's and
 * DeepSeek Coder's, lists of regexes each splitting the pieces of the last. */
enum mrt__tok_pre {
	MRT__PRE_GPT2 = 0,
	MRT__PRE_LLAMA3 = 1,
	MRT__PRE_SMOLLM = 2,
	MRT__PRE_TEKKEN = 3,
	MRT__PRE_DEEPSEEK_LLM = 4,
	MRT__PRE_DEEPSEEK_CODER = 5,
};

/* GGUF token types (tokenizer.ggml.token_type), as llama.cpp numbers them. */
enum mrt__tok_attr {
	MRT__ATTR_UNDEFINED = 0,
	MRT__ATTR_NORMAL = 1,
	MRT__ATTR_UNKNOWN = 2,
	MRT__ATTR_CONTROL = 3,
	MRT__ATTR_USER_DEFINED = 4,
	MRT__ATTR_UNUSED = 5,
	MRT__ATTR_BYTE = 6,
};

#define MRT__TOK_MAX_EOG 16

/* Open-addressing table from a byte string or an id pair to an int. */
typedef struct mrt__tok_map {
	uint32_t mask; /* slots - 1; slots is a power of two */
	int32_t *slot; /* entry index or -1 */
} mrt__tok_map;

typedef struct mrt__tok_merge {
	int32_t left, right, result; /* token ids; result -1 when not a token */
} mrt__tok_merge;

struct mrt__tokenizer {
	int type; /* enum mrt__tok_type */
	int pre;  /* enum mrt__tok_pre, BPE only */
	int32_t n_vocab;
	char *blob;         /* every token text, back to back */
	uint32_t *text_off; /* token i is blob[text_off[i] .. text_off[i + 1]) */
	float *score;
	uint8_t *attr; /* enum mrt__tok_attr */
	mrt__tok_map by_text;

	int32_t n_merges;
	mrt__tok_merge *merge; /* by rank */
	mrt__tok_map by_pair;  /* (left, right) -> rank */

	int32_t byte_token[256]; /* SPM: <0xXX>; BPE: the token of the mapped byte */
	int32_t *special;        /* control / user-defined / unknown tokens, longest first */
	int n_special;
	int32_t eog[MRT__TOK_MAX_EOG];
	int n_eog;

	int32_t bos, eos, unk;
	int add_bos, add_space_prefix;
	int clean_spaces; /* detokenizing drops spaces before ?!., and some apostrophes */
	char model_name[8];
};

static inline const char *mrt__tok_text(const mrt__tokenizer *t, int32_t id, size_t *len)
{
	*len = t->text_off[id + 1] - t->text_off[id];
	return t->blob + t->text_off[id];
}

/* Token id of a text, or -1. */
int32_t mrt__tok_find(const mrt__tokenizer *t, const char *s, size_t len);
/* Rank of the merge (left, right), or -1. */
int32_t mrt__tok_find_merge(const mrt__tokenizer *t, int32_t left, int32_t right);

/* Bytes of the UTF-8 sequence that begins with byte c (1 for a stray
 * continuation byte), llama.cpp's rule. */
static inline size_t mrt__utf8_len(unsigned char c)
{
	static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
	return lens[c >> 4];
}

/* ---- symbols and the bigram heap (both engines) ---- */
typedef struct mrt__tok_sym {
	int32_t prev, next; /* -1 at the ends */
	uint32_t off, n;    /* bytes of the text; n == 0 once merged away */
	int32_t id;         /* token of the text or -1 */
} mrt__tok_sym;

typedef struct mrt__tok_bigram {
	float key; /* smaller pops first: -score (SPM) or rank (BPE) */
	int32_t left, right;
	uint32_t size; /* bytes of left + right when pushed */
	int32_t id;    /* the merged token */
} mrt__tok_bigram;

/* Growable work space, reused across the words of one call. */
typedef struct mrt__tok_work {
	mrt__tok_sym *sym;
	size_t n_sym, cap_sym;
	mrt__tok_bigram *heap;
	size_t n_heap, cap_heap;
} mrt__tok_work;

int mrt__tok_work_reserve(mrt__tok_work *w, size_t n_sym);
void mrt__tok_work_free(mrt__tok_work *w);
int mrt__tok_heap_push(mrt__tok_work *w, const mrt__tok_bigram *b);
void mrt__tok_heap_pop(mrt__tok_work *w, mrt__tok_bigram *out);

/* Output under construction: counts every token, stores the first max. */
typedef struct mrt__tok_out {
	int32_t *ids;
	int max;
	int n;
} mrt__tok_out;

static inline void mrt__tok_emit(mrt__tok_out *o, int32_t id)
{
	if (o->n < o->max)
		o->ids[o->n] = id;
	if (o->n < INT32_MAX)
		o->n++;
}

/* Engines: encode one fragment of plain text. Return 0 or MRT_ERR_NOMEM. */
int mrt__spm_encode(const mrt__tokenizer *t, const char *text, size_t len, int prefix_space,
                    mrt__tok_work *w, mrt__tok_out *out);
int mrt__bpe_encode(const mrt__tokenizer *t, const char *text, size_t len, mrt__tok_work *w,
                    mrt__tok_out *out);

/* ---- Unicode (tokenizer_unicode.c) ---- */
enum {
	MRT__CP_LETTER = 1,
	MRT__CP_NUMBER = 2,
	MRT__CP_SPACE = 4,  /* the \s of the pre-tokenizer regexes */
	MRT__CP_PUNCT = 16, /* \p{P} */
};
/* Class bits of code point cp. */
unsigned mrt__cp_class(uint32_t cp);
/* Decode the code point at s[0..len): its byte count in *n (OUT). Invalid or
 * truncated sequences give U+FFFD with *n = 1. */
uint32_t mrt__utf8_decode(const unsigned char *s, size_t len, size_t *n);
/* GPT-2's printable mapping: the code point byte b stands for, and back
 * (-1 when cp stands for no byte). */
uint32_t mrt__byte_to_cp(unsigned char b);
int mrt__cp_to_byte(uint32_t cp);
/* Split text into pre-tokenizer words: calls fn(ctx, off, len) for each, in
 * order. Returns 0 or the first nonzero value fn returned. */
typedef int (*mrt__word_fn)(void *ctx, size_t off, size_t len);
int mrt__pretokenize(int pre, const char *text, size_t len, mrt__word_fn fn, void *ctx);

#endif
