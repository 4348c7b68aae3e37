/* Text to tokens and back: the special-token split that runs first (longest
 * special token first, over the whole text, as llama.cpp does), dispatch of
 * the plain-text fragments to the SentencePiece or byte-level BPE engine,
 * token pieces, and the bigram heap both engines merge with. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* Texts longer than this are refused (MRT_ERR_RANGE): symbol offsets are
 * 32-bit and SentencePiece's escaping triples spaces. */
#define MAX_TEXT ((size_t)1 << 29)

/* ---- work space and heap ---- */

int mrt__tok_work_reserve(mrt__tok_work *w, size_t n_sym)
{
	if (n_sym > w->cap_sym) {
		size_t cap = n_sym < 64 ? 64 : n_sym + n_sym / 2;
		mrt__tok_sym *p = realloc(w->sym, cap * sizeof(*p));

		if (p == NULL)
			return MRT_ERR_NOMEM;
		w->sym = p;
		w->cap_sym = cap;
	}
	w->n_sym = 0;
	w->n_heap = 0;
	return 0;
}

void mrt__tok_work_free(mrt__tok_work *w)
{
	free(w->sym);
	free(w->heap);
}

static int bigram_before(const mrt__tok_bigram *a, const mrt__tok_bigram *b)
{
	return a->key < b->key || (a->key == b->key && a->left < b->left);
}

int mrt__tok_heap_push(mrt__tok_work *w, const mrt__tok_bigram *b)
{
	size_t i;

	if (w->n_heap == w->cap_heap) {
		size_t cap = w->cap_heap < 64 ? 64 : w->cap_heap * 2;
		mrt__tok_bigram *p = realloc(w->heap, cap * sizeof(*p));

		if (p == NULL)
			return MRT_ERR_NOMEM;
		w->heap = p;
		w->cap_heap = cap;
	}
	for (i = w->n_heap++; i > 0; i = (i - 1) / 2) {
		mrt__tok_bigram *parent = &w->heap[(i - 1) / 2];

		if (!bigram_before(b, parent))
			break;
		w->heap[i] = *parent;
	}
	w->heap[i] = *b;
	return 0;
}

/* Pop the first bigram into *out (OUT); the heap must not be empty. */
void mrt__tok_heap_pop(mrt__tok_work *w, mrt__tok_bigram *out)
{
	mrt__tok_bigram last = w->heap[--w->n_heap];
	size_t i = 0, n = w->n_heap;

	*out = w->heap[0];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && bigram_before(&w->heap[c + 1], &w->heap[c]))
			c++;
		if (!bigram_before(&w->heap[c], &last))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	w->heap[i] = last;
}

/* ---- special-token split ---- */

typedef struct frag {
	int32_t id; /* -1: plain text */
	size_t off, len;
} frag;

typedef struct frag_list {
	frag *v;
	size_t n, cap;
} frag_list;

static int frag_push(frag_list *l, int32_t id, size_t off, size_t len)
{
	if (id < 0 && len == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap < 16 ? 16 : l->cap * 2;
		frag *p = realloc(l->v, cap * sizeof(*p));

		if (p == NULL)
			return MRT_ERR_NOMEM;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = (frag){id, off, len};
	return 0;
}

/* Split the plain fragments of *cur at every occurrence of special token id
 * into *next (emptied first). Returns 0 or MRT_ERR_NOMEM. */
static int split_one(const mrt__tokenizer *t, const char *text, int32_t id, const frag_list *cur,
                     frag_list *next)
{
	size_t sn;
	const char *s = mrt__tok_text(t, id, &sn);

	next->n = 0;
	for (size_t i = 0; i < cur->n; i++) {
		frag f = cur->v[i];
		const char *p = text + f.off, *end = p + f.len, *hit;

		if (f.id >= 0) {
			if (frag_push(next, f.id, f.off, f.len) != 0)
				return MRT_ERR_NOMEM;
			continue;
		}
		while ((hit = memmem(p, (size_t)(end - p), s, sn)) != NULL) {
			if (frag_push(next, -1, (size_t)(p - text), (size_t)(hit - p)) != 0 ||
			    frag_push(next, id, (size_t)(hit - text), sn) != 0)
				return MRT_ERR_NOMEM;
			p = hit + sn;
		}
		if (frag_push(next, -1, (size_t)(p - text), (size_t)(end - p)) != 0)
			return MRT_ERR_NOMEM;
	}
	return 0;
}

/* Fragments of text: special tokens found in it, and the plain text between.
 * Control and unknown tokens are matched only when parse_special;
 * user-defined tokens always (llama.cpp's rule). */
static int split_special(const mrt__tokenizer *t, const char *text, size_t len, int parse_special,
                         frag_list *out)
{
	frag_list other = {0};
	int rc = frag_push(out, -1, 0, len);

	for (int k = 0; rc == 0 && k < t->n_special; k++) {
		int32_t id = t->special[k];
		size_t sn;
		const char *s = mrt__tok_text(t, id, &sn);
		frag_list swap;

		if (!parse_special && t->attr[id] != MRT__ATTR_USER_DEFINED)
			continue;
		if (memmem(text, len, s, sn) == NULL)
			continue;
		rc = split_one(t, text, id, out, &other);
		swap = *out;
		*out = other;
		other = swap;
	}
	free(other.v);
	return rc;
}

int mrt__tokenize(const mrt__tokenizer *t, const char *text, size_t len, int add_bos,
                  int parse_special, int32_t *out, int max)
{
	mrt__tok_out o = {out, max, 0};
	mrt__tok_work w = {0};
	frag_list frags = {0};
	int rc, prev_special = 1;

	if (t == NULL || (text == NULL && len > 0) || max < 0 || (max > 0 && out == NULL))
		return MRT_ERR_INVALID;
	if (len > MAX_TEXT)
		return MRT_ERR_RANGE;
	if (add_bos && t->bos >= 0)
		mrt__tok_emit(&o, t->bos);
	rc = split_special(t, text, len, parse_special, &frags);
	for (size_t i = 0; rc == 0 && i < frags.n; i++) {
		const frag *f = &frags.v[i];

		if (f->id >= 0) {
			mrt__tok_emit(&o, f->id);
			prev_special = 1;
		} else if (t->type == MRT__TOK_SPM) {
			rc = mrt__spm_encode(t, text + f->off, f->len,
			                     t->add_space_prefix && prev_special, &w, &o);
			prev_special = 0;
		} else {
			rc = mrt__bpe_encode(t, text + f->off, f->len, &w, &o);
		}
	}
	free(frags.v);
	mrt__tok_work_free(&w);
	if (rc != 0)
		return rc;
	return o.n >= INT32_MAX ? MRT_ERR_RANGE : o.n;
}

/* ---- tokens to bytes ---- */

typedef struct piece {
	char *buf;
	size_t cap, n;
} piece;

static void piece_put(piece *p, const char *s, size_t n)
{
	if (p->n < p->cap)
		memcpy(p->buf + p->n, s, n < p->cap - p->n ? n : p->cap - p->n);
	p->n += n;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* GPT-2 text: each code point stands for one byte; others are copied. */
static void piece_bpe(piece *p, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t k;
		uint32_t cp = mrt__utf8_decode(u + i, n - i, &k);
		int b = mrt__cp_to_byte(cp);
		char c = (char)b;

		if (b >= 0)
			piece_put(p, &c, 1);
		else
			piece_put(p, s + i, k);
		i += k;
	}
}

/* SentencePiece text: U+2581 is a space. */
static void piece_spm(piece *p, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i + 3 <= n;) {
		if (memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
			piece_put(p, s + start, i - start);
			piece_put(p, " ", 1);
			i += 3;
			start = i;
		} else {
			i++;
		}
	}
	piece_put(p, s + start, n - start);
}

int mrt__token_to_piece(const mrt__tokenizer *t, int32_t id, int render_special, char *buf,
                        size_t buflen)
{
	piece p = {buf, buf ? buflen : 0, 0};
	size_t n;
	const char *s;

	if (t == NULL || id < 0 || id >= t->n_vocab)
		return MRT_ERR_INVALID;
	s = mrt__tok_text(t, id, &n);
	switch (t->attr[id]) {
	case MRT__ATTR_CONTROL:
	case MRT__ATTR_UNKNOWN:
		if (render_special)
			piece_put(&p, s, n);
		break;
	case MRT__ATTR_USER_DEFINED:
		piece_put(&p, s, n);
		break;
	case MRT__ATTR_UNUSED:
		break;
	case MRT__ATTR_BYTE:
		if (t->type == MRT__TOK_SPM && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' &&
		    hex_digit(s[3]) >= 0 && hex_digit(s[4]) >= 0) {
			char c = (char)(hex_digit(s[3]) * 16 + hex_digit(s[4]));

			piece_put(&p, &c, 1);
			break;
		}
		/* fall through */
	default:
		if (t->type == MRT__TOK_SPM)
			piece_spm(&p, s, n);
		else
			piece_bpe(&p, s, n);
		break;
	}
	return p.n > INT32_MAX ? MRT_ERR_RANGE : (int)p.n;
}

/* llama.cpp's clean-up of a detokenized text in place (tokenizer_clean_spaces,
 * after Hugging Face's clean_up_tokenization): a space goes before ? ! . ,;
 * " ' " becomes "'"; a space goes before 's 'm 're 've. Returns the new
 * length. Each pass keeps the first byte and looks at the bytes as the
 * previous pass left them. */
static size_t clean_spaces(char *s, size_t n)
{
	size_t w, i;

	if (n == 0)
		return 0;
	for (w = 1, i = 1; i < n; i++) { /* " ?" " !" " ." " ," */
		char x = s[i];
		if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
			w--;
		s[w++] = x;
	}
	n = w;
	for (w = 1, i = 1; i < n; i++) { /* " ' " */
		char x = s[i];
		if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
			w--;
			/* the next space is dropped (and is no space to look back at) */
			s[++i] = 0;
		}
		s[w++] = x;
	}
	n = w;
	for (w = 1, i = 1; i < n; i++) { /* " 's" " 'm" " 're" " 've" */
		char x = s[i];
		if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
			char x1 = s[i + 1], x2 = i + 2 < n ? s[i + 2] : 0;
			if (x1 == 's' || x1 == 'm' || (x2 == 'e' && (x1 == 'r' || x1 == 'v')))
				w--;
		}
		s[w++] = x;
	}
	return w;
}

int mrt__detokenize(const mrt__tokenizer *t, const int32_t *ids, int n, int render_special,
                    char *buf, size_t buflen)
{
	size_t need = 0, at = 0;
	char *text;

	if (t == NULL || n < 0 || (n > 0 && ids == NULL) || (buflen > 0 && buf == NULL))
		return MRT_ERR_INVALID;
	for (int i = 0; i < n; i++) { /* the pieces' lengths */
		int len = mrt__token_to_piece(t, ids[i], render_special, NULL, 0);
		if (len < 0)
			return len;
		if ((size_t)len > INT32_MAX - need)
			return MRT_ERR_RANGE;
		need += (size_t)len;
	}
	if (!(text = malloc(need + 1)))
		return MRT_ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		int len = mrt__token_to_piece(t, ids[i], render_special, text + at, need - at);
		/* llama.cpp takes the space prefix off the first piece */
		if (i == 0 && t->add_space_prefix && len > 0 && text[at] == ' ')
			memmove(text + at, text + at + 1, (size_t)--len);
		at += (size_t)len;
	}
	if (t->clean_spaces)
		at = clean_spaces(text, at);
	if (buflen > 0)
		memcpy(buf, text, at < buflen ? at : buflen);
	free(text);
	return (int)at;
}

size_t mrt_utf8_complete_prefix(const char *buf, size_t len)
{
	const unsigned char *u = (const unsigned char *)buf;

	/* Look back at most 3 bytes for the lead byte of the last character. */
	for (size_t back = 1; back <= 4 && back <= len; back++) {
		unsigned char c = u[len - back];
		size_t need;

		if ((c & 0xC0) == 0x80)
			continue; /* continuation byte: keep looking */
		if (c < 0x80)
			return len;
		need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
		return back < need ? len - back : len;
	}
	return len; /* only continuation bytes: nothing to wait for */
}
