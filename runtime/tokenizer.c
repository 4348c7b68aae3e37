/* The tokenizer of a language model: built from the file's tokenizer.ggml.*
 * keys, then immutable. Owns the token tables and the special-token split
 * that runs before the engines (tokenizer_spm.c, tokenizer_bpe.c) see plain
 * text, and turns tokens back into bytes. Semantics follow llama.cpp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* ---- hash tables ---- */

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h ^ (h >> 15);
}

static uint32_t hash_pair(int32_t a, int32_t b)
{
	uint64_t x = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(x >> 32);
}

/* Room for n entries at most half full. Returns 0 or -1. */
static int map_init(mrt__tok_map *m, size_t n)
{
	size_t slots = 16;

	while (slots < 2 * n) {
		if (slots > ((size_t)1 << 30))
			return -1;
		slots *= 2;
	}
	m->slot = malloc(slots * sizeof(*m->slot));
	if (m->slot == NULL)
		return -1;
	memset(m->slot, 0xff, slots * sizeof(*m->slot));
	m->mask = (uint32_t)(slots - 1);
	return 0;
}

int32_t mrt__tok_find(const mrt__tokenizer *t, const char *s, size_t len)
{
	for (uint32_t i = hash_bytes(s, len) & t->by_text.mask;; i = (i + 1) & t->by_text.mask) {
		int32_t id = t->by_text.slot[i];
		size_t n;
		const char *p;

		if (id < 0)
			return -1;
		p = mrt__tok_text(t, id, &n);
		if (n == len && memcmp(p, s, len) == 0)
			return id;
	}
}

int32_t mrt__tok_find_merge(const mrt__tokenizer *t, int32_t left, int32_t right)
{
	if (t->n_merges == 0)
		return -1;
	for (uint32_t i = hash_pair(left, right) & t->by_pair.mask;;
	     i = (i + 1) & t->by_pair.mask) {
		int32_t r = t->by_pair.slot[i];

		if (r < 0)
			return -1;
		if (t->merge[r].left == left && t->merge[r].right == right)
			return r;
	}
}

/* ---- loading ---- */

static int get_bool(const mrt_gguf *g, const char *key, int dflt)
{
	int64_t i = mrt_gguf_find_kv(g, key);
	mrt_gguf_str k;
	mrt_gguf_value v;

	if (i < 0 || mrt_gguf_kv(g, (uint64_t)i, &k, &v) != 0 || v.type != MRT_GGUF_BOOL)
		return dflt;
	return v.v.b != 0;
}

/* Token id key: *out = the id, dflt when absent. -1 when out of range. */
static int get_id(const mrt_gguf *g, const char *key, int32_t n_vocab, int32_t dflt, int32_t *out,
                  char *err, size_t errlen)
{
	int64_t v;

	*out = dflt;
	if (mrt_gguf_get_i64(g, key, &v) != 0)
		return 0;
	if (v < 0 || v >= n_vocab) {
		snprintf(err, errlen, "%s = %lld is not a token id (vocabulary of %d)", key,
		         (long long)v, (int)n_vocab);
		return -1;
	}
	*out = (int32_t)v;
	return 0;
}

static int load_texts(mrt__tokenizer *t, const mrt_gguf *g, char *err, size_t errlen)
{
	mrt_gguf_value arr;
	mrt_gguf_str *strs = NULL;
	uint64_t total = 0;
	int rc = -1;

	if (mrt_gguf_get_arr(g, "tokenizer.ggml.tokens", &arr) != 0 ||
	    arr.v.arr.elem_type != MRT_GGUF_STRING || arr.v.arr.n == 0) {
		snprintf(err, errlen, "tokenizer.ggml.tokens: missing or not an array of strings");
		return -1;
	}
	if (arr.v.arr.n > (1u << 24)) {
		snprintf(err, errlen, "tokenizer.ggml.tokens: %llu tokens is too many",
		         (unsigned long long)arr.v.arr.n);
		return -1;
	}
	t->n_vocab = (int32_t)arr.v.arr.n;
	strs = malloc(arr.v.arr.n * sizeof(*strs));
	t->text_off = malloc((arr.v.arr.n + 1) * sizeof(*t->text_off));
	if (strs == NULL || t->text_off == NULL || mrt_gguf_arr_strs(&arr, strs) != 0)
		goto fail_nomem;
	for (int32_t i = 0; i < t->n_vocab; i++) {
		total += strs[i].len; /* each len <= file size, so no 64-bit overflow */
		if (total > UINT32_MAX - 1) {
			snprintf(err, errlen, "tokenizer.ggml.tokens: texts too long");
			goto out;
		}
	}
	t->blob = malloc(total + 1);
	if (t->blob == NULL)
		goto fail_nomem;
	total = 0;
	for (int32_t i = 0; i < t->n_vocab; i++) {
		t->text_off[i] = (uint32_t)total;
		memcpy(t->blob + total, strs[i].ptr, strs[i].len);
		total += strs[i].len;
	}
	t->text_off[t->n_vocab] = (uint32_t)total;
	rc = 0;
	goto out;
fail_nomem:
	snprintf(err, errlen, "tokenizer: out of memory");
out:
	free(strs);
	return rc;
}

/* Scores and token types: optional arrays of n_vocab f32 / integers. */
static int load_scores_types(mrt__tokenizer *t, const mrt_gguf *g, char *err, size_t errlen)
{
	mrt_gguf_value arr;

	t->score = calloc((size_t)t->n_vocab, sizeof(*t->score));
	t->attr = malloc((size_t)t->n_vocab);
	if (t->score == NULL || t->attr == NULL) {
		snprintf(err, errlen, "tokenizer: out of memory");
		return -1;
	}
	memset(t->attr, MRT__ATTR_NORMAL, (size_t)t->n_vocab);
	if (mrt_gguf_get_arr(g, "tokenizer.ggml.scores", &arr) == 0) {
		if (arr.v.arr.elem_type != MRT_GGUF_FLOAT32 ||
		    arr.v.arr.n != (uint64_t)t->n_vocab) {
			snprintf(err, errlen, "tokenizer.ggml.scores: expected %d float32 values",
			         (int)t->n_vocab);
			return -1;
		}
		memcpy(t->score, arr.v.arr.data, (size_t)t->n_vocab * sizeof(float));
	}
	if (mrt_gguf_get_arr(g, "tokenizer.ggml.token_type", &arr) == 0) {
		if (arr.v.arr.n != (uint64_t)t->n_vocab) {
			snprintf(err, errlen, "tokenizer.ggml.token_type: expected %d values",
			         (int)t->n_vocab);
			return -1;
		}
		for (int32_t i = 0; i < t->n_vocab; i++) {
			int64_t v;

			if (mrt_gguf_arr_i64(&arr, (uint64_t)i, &v) != 0 || v < 0 ||
			    v > MRT__ATTR_BYTE) {
				snprintf(err, errlen, "tokenizer.ggml.token_type[%d]: bad type",
				         (int)i);
				return -1;
			}
			t->attr[i] = (uint8_t)v;
		}
	}
	return 0;
}

static int build_text_map(mrt__tokenizer *t)
{
	if (map_init(&t->by_text, (size_t)t->n_vocab) != 0)
		return -1;
	/* The first of duplicate texts wins, as in a map filled in id order. */
	for (int32_t id = 0; id < t->n_vocab; id++) {
		size_t n;
		const char *s = mrt__tok_text(t, id, &n);
		uint32_t i = hash_bytes(s, n) & t->by_text.mask;

		for (;; i = (i + 1) & t->by_text.mask) {
			int32_t o = t->by_text.slot[i];
			size_t on;
			const char *os;

			if (o < 0) {
				t->by_text.slot[i] = id;
				break;
			}
			os = mrt__tok_text(t, o, &on);
			if (on == n && memcmp(os, s, n) == 0)
				break;
		}
	}
	return 0;
}

/* Merges "left right": pairs of tokens, by rank. Unknown parts are skipped. */
static int load_merges(mrt__tokenizer *t, const mrt_gguf *g, char *err, size_t errlen)
{
	mrt_gguf_value arr;
	mrt_gguf_str *strs = NULL;
	int rc = -1;

	if (mrt_gguf_get_arr(g, "tokenizer.ggml.merges", &arr) != 0 ||
	    arr.v.arr.elem_type != MRT_GGUF_STRING) {
		snprintf(err, errlen, "tokenizer.ggml.merges: missing or not an array of strings");
		return -1;
	}
	if (arr.v.arr.n > (1u << 24)) {
		snprintf(err, errlen, "tokenizer.ggml.merges: too many merges");
		return -1;
	}
	strs = malloc((arr.v.arr.n + 1) * sizeof(*strs));
	t->merge = malloc((arr.v.arr.n + 1) * sizeof(*t->merge));
	if (strs == NULL || t->merge == NULL || mrt_gguf_arr_strs(&arr, strs) != 0 ||
	    map_init(&t->by_pair, arr.v.arr.n) != 0) {
		snprintf(err, errlen, "tokenizer: out of memory");
		goto out;
	}
	for (uint64_t k = 0; k < arr.v.arr.n; k++) {
		const char *s = strs[k].ptr, *sp;
		size_t n = strs[k].len;
		int32_t l, r, rank = t->n_merges;
		uint32_t i;

		sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
		if (sp == NULL)
			continue;
		l = mrt__tok_find(t, s, (size_t)(sp - s));
		r = mrt__tok_find(t, sp + 1, n - (size_t)(sp - s) - 1);
		if (l < 0 || r < 0 || mrt__tok_find_merge(t, l, r) >= 0)
			continue;
		t->merge[rank].left = l;
		t->merge[rank].right = r;
		t->merge[rank].result = -1;
		if (n - 1 <= 1024) {
			char buf[1024];

			memcpy(buf, s, (size_t)(sp - s));
			memcpy(buf + (sp - s), sp + 1, n - (size_t)(sp - s) - 1);
			t->merge[rank].result = mrt__tok_find(t, buf, n - 1);
		}
		for (i = hash_pair(l, r) & t->by_pair.mask; t->by_pair.slot[i] >= 0;
		     i = (i + 1) & t->by_pair.mask)
			;
		t->by_pair.slot[i] = rank;
		t->n_merges++;
	}
	rc = 0;
out:
	free(strs);
	return rc;
}

typedef struct special_key {
	uint32_t len;
	int32_t id;
} special_key;

static int cmp_special(const void *a, const void *b)
{
	const special_key *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The special tokens sorted longest first (ties by id). */
static int sort_special(mrt__tokenizer *t)
{
	special_key *keys = malloc(((size_t)t->n_special + 1) * sizeof(*keys));

	if (keys == NULL)
		return -1;
	for (int i = 0; i < t->n_special; i++) {
		int32_t id = t->special[i];

		keys[i].len = t->text_off[id + 1] - t->text_off[id];
		keys[i].id = id;
	}
	qsort(keys, (size_t)t->n_special, sizeof(*keys), cmp_special);
	for (int i = 0; i < t->n_special; i++)
		t->special[i] = keys[i].id;
	free(keys);
	return 0;
}

/* Byte tokens, special tokens (longest first) and end-of-generation ids. */
static int build_special(mrt__tokenizer *t, const mrt_gguf *g, char *err, size_t errlen)
{
	static const char *const eog_texts[] = {"<|eot_id|>",
	                                        "<|im_end|>",
	                                        "<|end|>",
	                                        "<end_of_turn>",
	                                        "<|endoftext|>",
	                                        "<|eom_id|>",
	                                        "<EOT>",
	                                        "<|end_of_text|>",
	                                        "<\xef\xbd\x9c"
	                                        "end\xe2\x96\x81of"
	                                        "\xe2\x96\x81sentence\xef\xbd\x9c>"};
	int32_t eot = -1, eom = -1;
	char name[8];

	for (int b = 0; b < 256; b++) {
		if (t->type == MRT__TOK_SPM) {
			snprintf(name, sizeof(name), "<0x%02X>", b);
			t->byte_token[b] = mrt__tok_find(t, name, 6);
		} else {
			uint32_t cp = mrt__byte_to_cp((unsigned char)b);
			char u[2] = {(char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F))};

			t->byte_token[b] = cp < 0x80 ? mrt__tok_find(t, (const char *)&b, 1)
			                             : mrt__tok_find(t, u, 2);
		}
	}
	t->special = malloc((size_t)t->n_vocab * sizeof(*t->special));
	if (t->special == NULL) {
		snprintf(err, errlen, "tokenizer: out of memory");
		return -1;
	}
	for (int32_t id = 0; id < t->n_vocab; id++) {
		int a = t->attr[id];

		if ((a == MRT__ATTR_CONTROL || a == MRT__ATTR_USER_DEFINED ||
		     a == MRT__ATTR_UNKNOWN) &&
		    t->text_off[id + 1] > t->text_off[id])
			t->special[t->n_special++] = id;
	}
	if (sort_special(t) != 0) {
		snprintf(err, errlen, "tokenizer: out of memory");
		return -1;
	}

	if (get_id(g, "tokenizer.ggml.eot_token_id", t->n_vocab, -1, &eot, err, errlen) != 0 ||
	    get_id(g, "tokenizer.ggml.eom_token_id", t->n_vocab, -1, &eom, err, errlen) != 0)
		return -1;
	int32_t fixed[3] = {t->eos, eot, eom};
	for (int i = 0; i < 3; i++)
		if (fixed[i] >= 0)
			t->eog[t->n_eog++] = fixed[i];
	for (size_t k = 0; k < sizeof(eog_texts) / sizeof(eog_texts[0]); k++) {
		int32_t id = mrt__tok_find(t, eog_texts[k], strlen(eog_texts[k]));

		if (id < 0 || t->n_eog >= MRT__TOK_MAX_EOG || mrt__token_is_eog(t, id))
			continue;
		if (t->attr[id] == MRT__ATTR_CONTROL || t->attr[id] == MRT__ATTR_USER_DEFINED)
			t->eog[t->n_eog++] = id;
	}
	return 0;
}

/* tokenizer.ggml.pre names as llama.cpp's converter writes them, by the
 * pre-tokenizer llama.cpp gives each (names that share one behave the same
 * there). As in llama.cpp, a name not listed is refused: another regex would
 * give other token ids without a word. A file without the key gets GPT-2's
 * (llama.cpp's "default", which it also gives such files, is another regex
 * set, and is refused here by name). */
static const struct {
	const char *name;
	int pre;
	int clean; /* llama.cpp's detokenizer cleans up spaces (tokenizer_clean_spaces) */
} pre_names[] = {
    {"gpt-2", MRT__PRE_GPT2, 1},
    {"mpt", MRT__PRE_GPT2, 1},
    {"olmo", MRT__PRE_GPT2, 1},
    {"jais", MRT__PRE_GPT2, 1},
    {"trillion", MRT__PRE_GPT2, 0},
    {"llama3", MRT__PRE_LLAMA3, 1},
    {"llama-v3", MRT__PRE_LLAMA3, 1},
    {"llama-bpe", MRT__PRE_LLAMA3, 1},
    {"falcon3", MRT__PRE_LLAMA3, 1},
    {"pixtral", MRT__PRE_LLAMA3, 1},
    {"smollm", MRT__PRE_SMOLLM, 0},
    {"starcoder", MRT__PRE_SMOLLM, 1},
    {"refact", MRT__PRE_SMOLLM, 1},
    {"command-r", MRT__PRE_SMOLLM, 0},
    {"codeshell", MRT__PRE_SMOLLM, 1},
    {"exaone", MRT__PRE_SMOLLM, 1},
    {"tekken", MRT__PRE_TEKKEN, 0},
    {"deepseek-llm", MRT__PRE_DEEPSEEK_LLM, 0},
    {"deepseek-coder", MRT__PRE_DEEPSEEK_CODER, 0},
};

static int read_pre(mrt__tokenizer *t, mrt_gguf_str s, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(pre_names) / sizeof(pre_names[0]); i++)
		if (mrt_gguf_str_eq(s, pre_names[i].name)) {
			t->pre = pre_names[i].pre;
			t->clean_spaces = pre_names[i].clean;
			return 0;
		}
	snprintf(err, errlen,
	         "tokenizer.ggml.pre \"%.*s\" is not supported (gpt-2, llama-bpe, smollm, "
	         "tekken, deepseek-llm, deepseek-coder and the names that share their rules)",
	         (int)(s.len > 32 ? 32 : s.len), s.ptr);
	return -1;
}

static int read_kind(mrt__tokenizer *t, const mrt_gguf *g, char *err, size_t errlen)
{
	mrt_gguf_str s;

	if (mrt_gguf_get_str(g, "tokenizer.ggml.model", &s) != 0) {
		snprintf(err, errlen, "tokenizer.ggml.model: missing");
		return -1;
	}
	if (mrt_gguf_str_eq(s, "llama")) {
		t->type = MRT__TOK_SPM;
	} else if (mrt_gguf_str_eq(s, "gpt2")) {
		t->type = MRT__TOK_BPE;
	} else {
		snprintf(err, errlen,
		         "tokenizer.ggml.model \"%.*s\" is not supported (llama, gpt2)",
		         (int)(s.len > 32 ? 32 : s.len), s.ptr);
		return -1;
	}
	snprintf(t->model_name, sizeof(t->model_name), "%s",
	         t->type == MRT__TOK_SPM ? "llama" : "gpt2");
	t->pre = MRT__PRE_GPT2;
	t->clean_spaces = t->type == MRT__TOK_BPE; /* as llama.cpp: BPE unless its pre says not */
	if (t->type == MRT__TOK_BPE && mrt_gguf_get_str(g, "tokenizer.ggml.pre", &s) == 0)
		return read_pre(t, s, err, errlen);
	return 0;
}

mrt__tokenizer *mrt__tokenizer_load(const mrt_gguf *g, char *err, size_t errlen)
{
	mrt__tokenizer *t = calloc(1, sizeof(*t));
	int spm;

	if (t == NULL) {
		snprintf(err, errlen, "tokenizer: out of memory");
		return NULL;
	}
	if (read_kind(t, g, err, errlen) != 0 || load_texts(t, g, err, errlen) != 0 ||
	    load_scores_types(t, g, err, errlen) != 0)
		goto fail;
	if (build_text_map(t) != 0) {
		snprintf(err, errlen, "tokenizer: out of memory");
		goto fail;
	}
	if (t->type == MRT__TOK_BPE && load_merges(t, g, err, errlen) != 0)
		goto fail;
	spm = t->type == MRT__TOK_SPM;
	if (get_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, spm && t->n_vocab > 1 ? 1 : -1,
	           &t->bos, err, errlen) != 0 ||
	    get_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, spm && t->n_vocab > 2 ? 2 : -1,
	           &t->eos, err, errlen) != 0 ||
	    get_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, spm ? 0 : -1, &t->unk, err,
	           errlen) != 0)
		goto fail;
	t->add_bos = get_bool(g, "tokenizer.ggml.add_bos_token",
	                      spm || t->pre == MRT__PRE_LLAMA3 || t->pre == MRT__PRE_TEKKEN);
	t->add_space_prefix = get_bool(g, "tokenizer.ggml.add_space_prefix", spm);
	if (build_special(t, g, err, errlen) != 0)
		goto fail;
	return t;
fail:
	mrt__tokenizer_free(t);
	return NULL;
}

void mrt__tokenizer_free(mrt__tokenizer *t)
{
	if (t == NULL)
		return;
	free(t->special);
	free(t->by_pair.slot);
	free(t->merge);
	free(t->by_text.slot);
	free(t->attr);
	free(t->score);
	free(t->text_off);
	free(t->blob);
	free(t);
}

int mrt__tokenizer_n_vocab(const mrt__tokenizer *t)
{
	return t->n_vocab;
}

int32_t mrt__tokenizer_bos(const mrt__tokenizer *t)
{
	return t->bos;
}

int32_t mrt__tokenizer_eos(const mrt__tokenizer *t)
{
	return t->eos;
}

int mrt__tokenizer_add_bos(const mrt__tokenizer *t)
{
	return t->add_bos;
}

const char *mrt__tokenizer_model_name(const mrt__tokenizer *t)
{
	return t->model_name;
}

int mrt__token_is_eog(const mrt__tokenizer *t, int32_t id)
{
	for (int i = 0; i < t->n_eog; i++)
		if (t->eog[i] == id)
			return 1;
	return 0;
}
