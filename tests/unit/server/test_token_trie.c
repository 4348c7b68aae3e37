/* The token trie against asking every token alone: on a vocabulary of all
 * 256 bytes and 4000 random pieces (JSON-ish bytes, shared prefixes,
 * duplicates, multibyte UTF-8), from the states along several JSON texts,
 * with the JSON-object automaton and a schema's, the trie allows exactly
 * the tokens whose bytes the automaton takes. */
#include <jansson.h>

#include "json_schema.h"
#include "mrt_llm.h"
#include "test.h"
#include "token_trie.h"

#define N_RANDOM 4000
/* pieces around escapes and surrogates, for the bounded strings */
static const char *const fixed[] = {"a\\ude00", "a\\ude00\"", "\\ude00", "\\ude00\"",
                                    "\\ud83d",  "\\u",        "\\",      "\\n",
                                    "ab\"",     "d",          "ude00",   "aaa"};
#define N_FIXED ((int)(sizeof(fixed) / sizeof(fixed[0])))
#define N_VOCAB (256 + N_RANDOM + N_FIXED + 1) /* and one empty piece */

static char pieces[N_VOCAB * 12];
static uint32_t off[N_VOCAB + 1];

static void make_vocab(void)
{
	static const char alpha[] = "{}[]\":, \n\t\\-.0123456789eEtruefalsnabc\xc3\xa9\xe2\x82\xac";
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	size_t n = 0;
	int t = 0;
	for (; t < 256; t++) {
		off[t] = (uint32_t)n;
		pieces[n++] = (char)t;
	}
	for (; t < 256 + N_RANDOM; t++) {
		off[t] = (uint32_t)n;
		if (t % 50 == 0 && t > 300) { /* a duplicate of an earlier piece */
			uint32_t src = off[t - 37], len = off[t - 36] - src;
			memmove(pieces + n, pieces + src, len);
			n += len;
			continue;
		}
		int len = 1 + (int)(test_xorshift64(&rng) % 8);
		for (int k = 0; k < len; k++)
			pieces[n++] = alpha[test_xorshift64(&rng) % (sizeof(alpha) - 1)];
	}
	for (int k = 0; k < N_FIXED; k++, t++) {
		off[t] = (uint32_t)n;
		memcpy(pieces + n, fixed[k], strlen(fixed[k]));
		n += strlen(fixed[k]);
	}
	off[t++] = (uint32_t)n; /* the empty piece: never allowed */
	off[t] = (uint32_t)n;
}

/* Compare the trie's mask from state with each token fed alone. */
static int compare(srv_trie *trie, const srv_trie_automaton *a, const void *state, int *allowed)
{
	static uint8_t mask[N_VOCAB];
	static unsigned char copy[sizeof(srv_schema_state)];
	int n = srv_trie_allowed(trie, a, state, mask), want = 0, bad = 0;
	for (int t = 0; t < N_VOCAB; t++) {
		memcpy(copy, state, a->size(state));
		int ok = off[t + 1] > off[t];
		for (uint32_t i = off[t]; ok && i < off[t + 1]; i++)
			ok = a->step(copy, (unsigned char)pieces[i]) == 0;
		want += ok;
		bad += mask[t] != ok;
	}
	CHECK_EQ_INT(n, want);
	*allowed += want;
	return bad;
}

int main(void)
{
	make_vocab();
	srv_trie *trie = srv_trie_build(pieces, off, N_VOCAB);
	CHECK(trie != NULL);
	if (!trie)
		TEST_END();
	static const char *const texts[] = {
	    "{\"a\": [1, -2.5e+3, true, null, {\"b\": \"x\\u00e9y\\n\"}], \"c\": false}",
	    "{\n  \"name\": \"caf\xc3\xa9 \xe2\x82\xac\",\n  \"age\": 12,\n  \"tags\": [\"a\", "
	    "\"b\"]\n}",
	};
	/* each automaton the server walks with, and again without its shortcut
	 * inside strings */
	srv_trie_automaton json_plain = srv_json_walk, schema_plain = srv_schema_walk;
	json_plain.plain_room = schema_plain.plain_room = NULL;
	const srv_trie_automaton jsons[2] = {json_plain, srv_json_walk};
	const srv_trie_automaton schemas[2] = {schema_plain, srv_schema_walk};
	int states = 0, bad = 0, allowed = 0;
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		mrt_json_state st;
		mrt_json_init(&st);
		for (size_t i = 0; i <= strlen(texts[k]); i++) {
			for (int v = 0; v < 2; v++)
				bad += compare(trie, &jsons[v], &st, &allowed);
			states++;
			if (texts[k][i])
				CHECK(mrt_json_feed(&st, texts[k] + i, 1) == 0);
		}
	}
	/* the second schema bounds the name's length, the third to exactly 3
	 * characters of which a surrogate pair is one (the walk counts their
	 * plain bytes, and applies them before a byte that is not plain) */
	static const char *const schema_texts[][2] = {
	    {"{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "
	     "\"age\": {\"type\": \"integer\"}, \"tags\": {\"type\": \"array\", \"items\": "
	     "{\"enum\": [\"a\", \"b\", \"ab\"]}}}}",
	     NULL},
	    {"{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", "
	     "\"minLength\": 2, \"maxLength\": 6}, \"age\": {\"type\": \"integer\"}, \"tags\": "
	     "{\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 1}}}}",
	     NULL},
	    {"{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", "
	     "\"minLength\": 3, \"maxLength\": 3}}}",
	     "{\"name\": \"\\ud83d\\ude00ab\"}"},
	};
	for (size_t k = 0; k < sizeof(schema_texts) / sizeof(schema_texts[0]); k++) {
		char err[200];
		json_error_t je;
		json_t *js = json_loads(schema_texts[k][0], 0, &je);
		const char *text = schema_texts[k][1] ? schema_texts[k][1] : texts[1];
		srv_schema *s = js ? srv_schema_compile(js, err, sizeof(err)) : NULL;
		CHECK(s != NULL);
		if (s) {
			srv_schema_state st;
			srv_schema_start(&st, s);
			for (size_t i = 0; i <= strlen(text); i++) {
				for (int v = 0; v < 2; v++)
					bad += compare(trie, &schemas[v], &st, &allowed);
				states++;
				if (text[i])
					CHECK(srv_schema_feed(&st, text + i, 1) == 0);
			}
		}
		srv_schema_free(s);
		json_decref(js);
	}
	CHECK_EQ_INT(bad, 0);
	fprintf(stderr, "%d states, %d tokens allowed in all, %d disagreements\n", states, allowed,
	        bad);
	CHECK(allowed > 10000);
	srv_trie_free(trie);
	TEST_END();
}
