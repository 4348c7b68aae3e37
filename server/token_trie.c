/* The token trie of token_trie.h: nodes in one array, children as sibling
 * lists in byte order, built from the pieces sorted; the walk is a
 * depth-first loop with one automaton state per level in a scratch buffer. */
#include "token_trie.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The most bytes of token text a trie takes (its nodes: 24 bytes each at
 * most per byte); real vocabularies hold a few MB. */
#define TRIE_MAX_BYTES ((size_t)1 << 26)

typedef struct trie_node {
	uint32_t child, sibling;     /* 0: none (the root is no one's child) */
	uint32_t tok_first;          /* tokens ending here: toks[tok_first .. + tok_count) */
	uint32_t sub_first, sub_end; /* the tokens of the subtree: toks[sub_first .. sub_end) */
	uint16_t tok_count;
	uint8_t byte;
	/* every byte from here down is plain: 1 + the most bytes below this
	 * node's (PLAIN_LONG: that many or more); 0 when not */
	uint8_t plain_len;
} trie_node;

#define PLAIN_LONG 255

static int plain_byte(unsigned c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

struct srv_trie {
	trie_node *nodes;
	uint32_t n_nodes;
	int32_t *toks; /* token ids in the order of their pieces */
	int n_vocab, max_len;
	unsigned char *scratch; /* (max_len + 1) states */
	size_t scratch_size;
	uint32_t *cur;         /* the node visited at each depth */
	unsigned char **level; /* the state before each depth's byte (may be a shallower one's) */
	int *skip;             /* plain bytes taken since that state, at each depth */
};

typedef struct piece {
	const unsigned char *p;
	uint32_t len;
	int32_t tok;
} piece;

static int piece_cmp(const void *a, const void *b)
{
	const piece *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);
	if (c)
		return c;
	return x->len != y->len ? (x->len < y->len ? -1 : 1)
	                        : (x->tok > y->tok) - (x->tok < y->tok);
}

void srv_trie_free(srv_trie *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->toks);
	free(t->scratch);
	free(t->cur);
	free(t->level);
	free(t->skip);
	free(t);
}

srv_trie *srv_trie_build(const char *pieces, const uint32_t *off, int n)
{
	srv_trie *t = calloc(1, sizeof(*t));
	piece *ps = malloc(sizeof(piece) * (n > 0 ? (size_t)n : 1));
	uint32_t *path = NULL, *last = NULL;
	size_t total = 1;
	int m = 0;
	if (!t || !ps)
		goto fail;
	t->n_vocab = n;
	for (int i = 0; i < n; i++) {
		uint32_t len = off[i + 1] - off[i];
		if (len == 0)
			continue;
		ps[m++] = (piece){(const unsigned char *)pieces + off[i], len, i};
		total += len;
		if ((int)len > t->max_len)
			t->max_len = (int)len;
	}
	if (total > TRIE_MAX_BYTES)
		goto fail; /* a vocabulary no model has: the caller asks token by token */
	qsort(ps, (size_t)m, sizeof(piece), piece_cmp);
	t->nodes = calloc(total, sizeof(trie_node));
	t->toks = malloc(sizeof(int32_t) * (m > 0 ? (size_t)m : 1));
	/* path[d]: the node at depth d of the last piece (path[0] the root);
	 * last[d]: the last child of path[d] so far */
	path = calloc((size_t)t->max_len + 1, sizeof(uint32_t));
	last = calloc((size_t)t->max_len + 1, sizeof(uint32_t));
	if (!t->nodes || !t->toks || !path || !last)
		goto fail;
	t->n_nodes = 1;
	const piece *prev = NULL;
	for (int i = 0; i < m; i++) {
		const piece *q = &ps[i];
		uint32_t k = 0; /* bytes shared with the previous piece: their nodes exist */
		if (prev)
			while (k < q->len && k < prev->len && q->p[k] == prev->p[k])
				k++;
		for (uint32_t d = k; d < q->len; d++) {
			uint32_t nd = t->n_nodes++;
			t->nodes[nd].byte = q->p[d];
			if (last[d])
				t->nodes[last[d]].sibling = nd;
			else
				t->nodes[path[d]].child = nd;
			last[d] = nd;
			path[d + 1] = nd;
			last[d + 1] = 0;
		}
		trie_node *end = &t->nodes[path[q->len]];
		if (end->tok_count == 0)
			end->tok_first = (uint32_t)i;
		if (end->tok_count < UINT16_MAX)
			end->tok_count++;
		t->toks[i] = q->tok;
		prev = q;
	}
	/* subtrees, children before parents (nodes were made in pre-order, so
	 * a subtree's tokens are consecutive in toks) */
	for (uint32_t n = t->n_nodes; n-- > 0;) {
		trie_node *nd = &t->nodes[n];
		int plain = n == 0 || plain_byte(nd->byte), below = 0;
		nd->sub_first = nd->tok_count ? nd->tok_first : UINT32_MAX;
		nd->sub_end = nd->tok_count ? nd->tok_first + nd->tok_count : 0;
		for (uint32_t c = nd->child; c; c = t->nodes[c].sibling) {
			const trie_node *ch = &t->nodes[c];
			plain &= ch->plain_len > 0;
			if (ch->plain_len > below)
				below = ch->plain_len;
			if (ch->sub_first < nd->sub_first)
				nd->sub_first = ch->sub_first;
			if (ch->sub_end > nd->sub_end)
				nd->sub_end = ch->sub_end;
		}
		nd->plain_len = !plain                ? 0
		                : below >= PLAIN_LONG ? PLAIN_LONG
		                                      : (uint8_t)(below + 1);
	}
	t->cur = calloc((size_t)t->max_len + 2, sizeof(uint32_t));
	t->level = calloc((size_t)t->max_len + 2, sizeof(unsigned char *));
	t->skip = calloc((size_t)t->max_len + 2, sizeof(int));
	if (!t->cur || !t->level || !t->skip)
		goto fail;
	free(ps);
	free(path);
	free(last);
	return t;
fail:
	free(ps);
	free(path);
	free(last);
	srv_trie_free(t);
	return NULL;
}

int srv_trie_allowed(srv_trie *t, const srv_trie_automaton *a, const void *state, uint8_t *mask)
{
	size_t need = ((size_t)t->max_len + 1) * a->max_size;
	if (need > t->scratch_size) {
		unsigned char *s = realloc(t->scratch, need);
		if (!s)
			return -1;
		t->scratch = s;
		t->scratch_size = need;
	}
	memset(mask, 0, (size_t)t->n_vocab);
	/* level[d]: the state before the byte of the node visited at depth d,
	 * in buffer d, or a shallower level's when plain bytes left it as is
	 * (skip[d] of them, counted later if the automaton counts them) */
#define BUFFER(d) (t->scratch + (size_t)(d)*a->max_size)
	memcpy(BUFFER(0), state, a->size(state));
	t->level[0] = BUFFER(0);
	t->skip[0] = 0;
	int d = 0, allowed = 0;
	t->cur[0] = t->nodes[0].child;
	while (d >= 0) {
		uint32_t n = t->cur[d];
		if (n == 0) { /* this level is done */
			if (--d >= 0)
				t->cur[d] = t->nodes[t->cur[d]].sibling;
			continue;
		}
		const trie_node *nd = &t->nodes[n];
		unsigned char *from = t->level[d], *next = from;
		int k = t->skip[d], room = a->plain_room ? a->plain_room(from) : -1;
		if (room >= 0 && room != INT_MAX)
			room -= k; /* what the plain bytes already taken leave */
		if (room >= 0 && nd->plain_len && nd->plain_len < PLAIN_LONG &&
		    nd->plain_len <= room) { /* the whole subtree is taken */
			for (uint32_t i = nd->sub_first; i < nd->sub_end; i++)
				mask[t->toks[i]] = 1;
			allowed += (int)(nd->sub_end - nd->sub_first);
			t->cur[d] = nd->sibling;
			continue;
		}
		if (room >= 0 && plain_byte(nd->byte)) {
			if (room == 0) { /* no plain byte is taken here */
				t->cur[d] = nd->sibling;
				continue;
			}
			t->skip[d + 1] = k + 1;
		} else {
			next = BUFFER(d + 1);
			memcpy(next, from, a->size(from));
			if (k > 0 && a->skip_plain)
				a->skip_plain(next, k);
			if (a->step(next, nd->byte) != 0) {
				t->cur[d] = nd->sibling;
				continue;
			}
			t->skip[d + 1] = 0;
		}
		for (uint32_t i = 0; i < nd->tok_count; i++) {
			mask[t->toks[nd->tok_first + i]] = 1;
			allowed++;
		}
		if (nd->child) {
			t->level[d + 1] = next;
			t->cur[++d] = nd->child;
			continue;
		}
		t->cur[d] = nd->sibling;
	}
#undef BUFFER
	return allowed;
}
