/* Byte-level BPE (tokenizer.ggml.model "gpt2"): the pre-tokenizer splits the
 * text into words, each byte of a word becomes its GPT-2 printable code
 * point, and the adjacent pair with the lowest merge rank is merged until no
 * pair has a merge (llama.cpp's llm_tokenizer_bpe). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

typedef struct bpe_run {
	const mrt__tokenizer *t;
	const char *text;
	mrt__tok_work *w;
	mrt__tok_out *out;
	char *mapped; /* the current word, bytes mapped to code points */
	size_t cap;
} bpe_run;

static int try_bigram(const mrt__tokenizer *t, mrt__tok_work *w, int32_t left, int32_t right)
{
	mrt__tok_bigram b;
	int32_t rank;

	if (left < 0 || right < 0 || w->sym[left].id < 0 || w->sym[right].id < 0)
		return 0;
	rank = mrt__tok_find_merge(t, w->sym[left].id, w->sym[right].id);
	if (rank < 0)
		return 0;
	b.key = (float)rank; /* ranks < 2^24: exact */
	b.left = left;
	b.right = right;
	b.size = w->sym[left].n + w->sym[right].n;
	b.id = t->merge[rank].result;
	return mrt__tok_heap_push(w, &b);
}

static int merge_all(const mrt__tokenizer *t, mrt__tok_work *w)
{
	mrt__tok_bigram b;
	int rc = 0;

	for (size_t i = 1; rc == 0 && i < w->n_sym; i++)
		rc = try_bigram(t, w, (int32_t)i - 1, (int32_t)i);
	while (rc == 0 && w->n_heap > 0) {
		mrt__tok_sym *l, *r;

		mrt__tok_heap_pop(w, &b);
		l = &w->sym[b.left];
		r = &w->sym[b.right];
		if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
			continue; /* outdated: one side changed since it was queued */
		l->n += r->n;
		l->id = b.id;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = b.left;
		rc = try_bigram(t, w, l->prev, b.left);
		if (rc == 0)
			rc = try_bigram(t, w, b.left, l->next);
	}
	return rc;
}

/* Map the word's bytes to code points (UTF-8) into run->mapped. */
static int map_word(bpe_run *run, const unsigned char *s, size_t len, size_t *n)
{
	size_t k = 0;

	if (2 * len > run->cap) {
		char *p = realloc(run->mapped, 2 * len);

		if (p == NULL)
			return MRT_ERR_NOMEM;
		run->mapped = p;
		run->cap = 2 * len;
	}
	for (size_t i = 0; i < len; i++) {
		uint32_t cp = mrt__byte_to_cp(s[i]);

		if (cp < 0x80) {
			run->mapped[k++] = (char)cp;
		} else {
			run->mapped[k++] = (char)(0xC0 | (cp >> 6));
			run->mapped[k++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	*n = k;
	return 0;
}

static int bpe_word(void *ctx, size_t off, size_t len)
{
	bpe_run *run = ctx;
	const mrt__tokenizer *t = run->t;
	const unsigned char *s = (const unsigned char *)run->text + off;
	mrt__tok_work *w = run->w;
	size_t n, pos = 0;
	int rc = map_word(run, s, len, &n);

	if (rc != 0)
		return rc;
	if (t->pre == MRT__PRE_LLAMA3 || t->pre == MRT__PRE_TEKKEN) {
		/* ignore_merges: a whole-word token wins */
		int32_t id = mrt__tok_find(t, run->mapped, n);

		if (id >= 0) {
			mrt__tok_emit(run->out, id);
			return 0;
		}
	}
	rc = mrt__tok_work_reserve(w, len);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < len; i++) {
		mrt__tok_sym *sym = &w->sym[i];

		sym->prev = (int32_t)i - 1;
		sym->next = i + 1 == len ? -1 : (int32_t)i + 1;
		sym->off = (uint32_t)pos;
		sym->n = mrt__byte_to_cp(s[i]) < 0x80 ? 1 : 2;
		sym->id = t->byte_token[s[i]];
		pos += sym->n;
	}
	w->n_sym = len;
	rc = merge_all(t, w);
	for (int32_t i = 0; rc == 0 && len > 0 && i != -1; i = w->sym[i].next) {
		if (w->sym[i].id >= 0) {
			mrt__tok_emit(run->out, w->sym[i].id);
			continue;
		}
		/* A merge whose result is not a token: spell it byte by byte. */
		for (size_t j = 0; j < len; j++) {
			uint32_t o = w->sym[j].off;

			if (o >= w->sym[i].off && o < w->sym[i].off + w->sym[i].n &&
			    t->byte_token[s[j]] >= 0)
				mrt__tok_emit(run->out, t->byte_token[s[j]]);
		}
	}
	return rc;
}

int mrt__bpe_encode(const mrt__tokenizer *t, const char *text, size_t len, mrt__tok_work *w,
                    mrt__tok_out *out)
{
	bpe_run run = {t, text, w, out, NULL, 0};
	int rc = mrt__pretokenize(t->pre, text, len, bpe_word, &run);

	free(run.mapped);
	return rc;
}
