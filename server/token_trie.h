/* A byte trie over a vocabulary's token texts, for constrained output: one
 * walk finds every token whose bytes a byte-at-a-time automaton (the JSON
 * or JSON-schema one) accepts, feeding each shared prefix once and leaving
 * a subtree as soon as its prefix is refused. */
#ifndef SRV_TOKEN_TRIE_H
#define SRV_TOKEN_TRIE_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_trie srv_trie;

/* The trie of n tokens whose bytes are pieces[off[t] .. off[t + 1]) (empty
 * pieces are left out). NULL when out of memory or past 64 MiB of text. */
srv_trie *srv_trie_build(const char *pieces, const uint32_t *off, int n);
void srv_trie_free(srv_trie *t);

/* An automaton for the walk: step feeds one byte to the state (0: taken);
 * size says how many bytes of a state are in use (what a copy must take);
 * max_size bounds it. plain_room (may be NULL) says whether the state is
 * inside a string where plain bytes (0x20-0x7f but '"' and '\\') change
 * nothing but a count of them: -1 when not; else how many more it takes
 * (INT_MAX: any number). The walk then takes each token made of plain
 * bytes that fit at once, and the others' plain bytes without copying the
 * state; skip_plain (may be NULL when the count is not kept) applies n
 * such bytes to a copy before a byte that is not plain is fed. */
typedef struct srv_trie_automaton {
	int (*step)(void *state, unsigned c);
	size_t (*size)(const void *state);
	size_t max_size;
	int (*plain_room)(const void *state);
	void (*skip_plain)(void *state, int n);
} srv_trie_automaton;

/* mask[t] = 1 for every token whose bytes a accepts from state, else 0 (n
 * entries). Returns the number of tokens allowed, or -1 when out of memory.
 * Uses the trie's scratch: one walk at a time. */
int srv_trie_allowed(srv_trie *t, const srv_trie_automaton *a, const void *state, uint8_t *mask);

#endif
