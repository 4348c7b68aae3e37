/* SentencePiece BPE (tokenizer.ggml.model "llama"): spaces become U+2581,
 * the text starts as one symbol per UTF-8 character, and the adjacent pair
 * whose concatenation is the highest-scoring token is merged until no pair
 * is a token (llama.cpp's llm_tokenizer_spm). Leftover symbols that are not
 * tokens are spelled with the <0xXX> byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* Escape: optional leading space, then ' ' -> U+2581. New buffer in *out. */
static int escape(const char *text, size_t len, int prefix_space, char **out, size_t *out_len)
{
	size_t spaces = (size_t)prefix_space, n = 0;
	char *e;

	for (size_t i = 0; i < len; i++)
		spaces += text[i] == ' ';
	e = malloc(len + 2 * spaces + 4); /* len <= 2^29: cannot overflow */
	if (e == NULL)
		return MRT_ERR_NOMEM;
	if (prefix_space) {
		memcpy(e, "\xe2\x96\x81", 3);
		n = 3;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ') {
			memcpy(e + n, "\xe2\x96\x81", 3);
			n += 3;
		} else {
			e[n++] = text[i];
		}
	}
	*out = e;
	*out_len = n;
	return 0;
}

/* Queue the merge of symbols left and right when their text is a token. */
static int try_bigram(const mrt__tokenizer *t, const char *s, mrt__tok_work *w, int32_t left,
                      int32_t right)
{
	mrt__tok_bigram b;
	const mrt__tok_sym *l, *r;

	if (left < 0 || right < 0)
		return 0;
	l = &w->sym[left];
	r = &w->sym[right];
	b.id = mrt__tok_find(t, s + l->off, l->n + r->n);
	if (b.id < 0)
		return 0;
	b.key = -t->score[b.id];
	b.left = left;
	b.right = right;
	b.size = l->n + r->n;
	return mrt__tok_heap_push(w, &b);
}

/* Emit symbol text: its token, or else one byte token per byte (the unknown
 * token for a byte the vocabulary cannot spell). */
static void emit_symbol(const mrt__tokenizer *t, const char *s, size_t n, mrt__tok_out *out)
{
	int32_t id = mrt__tok_find(t, s, n);

	if (id >= 0) {
		mrt__tok_emit(out, id);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		id = t->byte_token[(unsigned char)s[j]];
		if (id < 0)
			id = t->unk;
		if (id >= 0)
			mrt__tok_emit(out, id);
	}
}

static int merge_all(const mrt__tokenizer *t, const char *s, mrt__tok_work *w)
{
	mrt__tok_bigram b;
	int rc = 0;

	for (size_t i = 1; rc == 0 && i < w->n_sym; i++)
		rc = try_bigram(t, s, w, (int32_t)i - 1, (int32_t)i);
	while (rc == 0 && w->n_heap > 0) {
		mrt__tok_sym *l, *r;

		mrt__tok_heap_pop(w, &b);
		l = &w->sym[b.left];
		r = &w->sym[b.right];
		if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
			continue; /* one side already merged elsewhere */
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = b.left;
		rc = try_bigram(t, s, w, l->prev, b.left);
		if (rc == 0)
			rc = try_bigram(t, s, w, b.left, l->next);
	}
	return rc;
}

int mrt__spm_encode(const mrt__tokenizer *t, const char *text, size_t len, int prefix_space,
                    mrt__tok_work *w, mrt__tok_out *out)
{
	char *s;
	size_t n, off = 0;
	int rc = escape(text, len, prefix_space, &s, &n);

	if (rc != 0)
		return rc;
	if (n == 0)
		goto out;
	rc = mrt__tok_work_reserve(w, n);
	if (rc != 0)
		goto out;
	while (off < n) {
		size_t k = mrt__utf8_len((unsigned char)s[off]);
		mrt__tok_sym *sym = &w->sym[w->n_sym];

		if (k > n - off)
			k = n - off;
		sym->prev = (int32_t)w->n_sym - 1;
		sym->off = (uint32_t)off;
		sym->n = (uint32_t)k;
		sym->id = -1;
		off += k;
		sym->next = off == n ? -1 : (int32_t)w->n_sym + 1;
		w->n_sym++;
	}
	rc = merge_all(t, s, w);
	for (int32_t i = 0; rc == 0 && i != -1; i = w->sym[i].next)
		emit_symbol(t, s + w->sym[i].off, w->sym[i].n, out);
out:
	free(s);
	return rc;
}
