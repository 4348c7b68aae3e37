/* The JSON prefix automaton against Python's json module
 * (tests/fixtures/json/cases.txt, made by make_cases.py): every case's
 * verdict (one JSON object within the output's whitespace and depth
 * bounds, or not) must match; every prefix of an accepted text is
 * accepted, fed at once or byte by byte, and done only once its root has
 * closed. Then mrt_sampler_sample_allowed against hand-computed choices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_cases.h"
#include "mrt_llm.h"
#include "test.h"

/* Feed data[0..n) one byte at a time: the number of bytes accepted before
 * the first rejection (n when none), with the state after them in *st. */
static size_t feed_bytes(mrt_json_state *st, const unsigned char *data, size_t n)
{
	mrt_json_init(st);
	for (size_t i = 0; i < n; i++) {
		mrt_json_state next = *st;
		if (mrt_json_feed(&next, (const char *)data + i, 1) != 0)
			return i;
		*st = next;
	}
	return n;
}

static void test_cases(void)
{
	FILE *f = json_case_open("cases.txt");
	CHECK(f != NULL);
	if (!f)
		return;
	static char line[1 << 16];
	static unsigned char data[1 << 15];
	int cases = 0, objects = 0, prefixes = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\n");
		CHECK(len >= 2 && (line[0] == '0' || line[0] == '1') && line[1] == ' ');
		size_t n = json_case_unhex(line + 2, len - 2, data);
		int want = line[0] == '1';
		mrt_json_state st, bytewise;
		mrt_json_init(&st);
		int whole = mrt_json_feed(&st, (const char *)data, n) == 0 && mrt_json_done(&st);
		size_t taken = feed_bytes(&bytewise, data, n);
		int by_byte = taken == n && mrt_json_done(&bytewise);
		if (whole != want || by_byte != want)
			fprintf(stderr, "case %d (%s): got %d/%d, Python %d\n", cases + 1, line + 2,
			        whole, by_byte, want);
		CHECK_EQ_INT(whole, want);
		CHECK_EQ_INT(by_byte, want);
		if (want) {
			/* each prefix is still a prefix of an object; done from the
			 * root's closing brace on */
			size_t close = json_case_root_close(data, n);
			for (size_t k = 0; k <= n; k++) {
				mrt_json_init(&st);
				int ok = mrt_json_feed(&st, (const char *)data, k) == 0;
				if (!ok || mrt_json_done(&st) != (k > close)) {
					fprintf(stderr,
					        "case %d: prefix of %zu bytes: fed %d, done %d\n",
					        cases + 1, k, ok, mrt_json_done(&st));
					CHECK(0);
					break;
				}
				prefixes++;
			}
			objects++;
		}
		cases++;
	}
	fclose(f);
	fprintf(stderr, "%d cases (%d objects), %d prefixes of objects\n", cases, objects,
	        prefixes);
	CHECK(cases > 1000);
	CHECK(objects > 400 && objects < cases - 400);
}

/* Tokens as strings; allowed when their bytes keep st a JSON prefix. */
typedef struct toy {
	const char *const *piece;
	mrt_json_state st;
	int calls;
} toy;

static int toy_allowed(void *arg, int32_t tok)
{
	toy *t = arg;
	mrt_json_state st = t->st;
	t->calls++;
	return t->piece[tok][0] && mrt_json_feed(&st, t->piece[tok], strlen(t->piece[tok])) == 0;
}

/* The same as a mask (the trie's way): every token asked once. */
static int toy_fill(void *arg, uint8_t *mask)
{
	int n = 0;
	for (int32_t i = 0; i < 8; i++)
		n += mask[i] = (uint8_t)toy_allowed(arg, i);
	return n;
}

static void test_sample_allowed(void)
{
	static const char *const piece[8] = {"hello", "{\"", "}", " ", "", "{", "\"a\":", "x"};
	float logits[8] = {5, 1, 4, 0.5f, 6, 2, 3, 4.5f};
	mrt_sampler_params p = mrt_sampler_default_params();
	p.temperature = 0;
	mrt_sampler *s = mrt_sampler_new(&p, 8);
	toy t = {piece, {0}, 0};
	mrt_json_init(&t.st);

	/* greedy: the best allowed token ("{" at 2 beats "{\"" at 1 and " " at 0.5);
	 * the argmax (token 4, empty) is asked first, then every token */
	CHECK_EQ_INT(mrt_sampler_sample_allowed(s, logits, toy_allowed, NULL, &t), 5);
	CHECK_EQ_INT(t.calls, 1 + 8);
	/* after "{": "}" closes it (4 beats "\"a\":" at 3 and "{\"" is not allowed) */
	CHECK(mrt_json_feed(&t.st, "{", 1) == 0);
	t.calls = 0;
	CHECK_EQ_INT(mrt_sampler_sample_allowed(s, logits, toy_allowed, NULL, &t), 2);
	CHECK_EQ_INT(t.calls, 9);
	/* the greedy choice itself allowed: one call */
	logits[2] = 9;
	t.calls = 0;
	CHECK_EQ_INT(mrt_sampler_sample_allowed(s, logits, toy_allowed, NULL, &t), 2);
	CHECK_EQ_INT(t.calls, 1);
	/* nothing allowed after the root closed (" " is, once) */
	CHECK(mrt_json_feed(&t.st, "}", 1) == 0 && mrt_json_done(&t.st));
	logits[3] = -1e30f;
	CHECK_EQ_INT(mrt_sampler_sample_allowed(s, logits, toy_allowed, NULL, &t), 3);
	CHECK(mrt_json_feed(&t.st, " \n", 2) != 0); /* a newline only first in a run */
	mrt_json_init(&t.st);
	CHECK(mrt_json_feed(&t.st, "{}\n\n", 4) != 0);
	mrt_json_init(&t.st);
	CHECK(mrt_json_feed(&t.st, "{}x", 3) != 0);
	mrt_json_init(&t.st);
	CHECK(mrt_json_feed(&t.st, "{}", 2) == 0);
	static const char *const none[8] = {"a", "b", "{", "[", "", "1", "\"", "x"};
	t.piece = none;
	CHECK_EQ_INT(mrt_sampler_sample_allowed(s, logits, toy_allowed, NULL, &t), -1);
	mrt_sampler_free(s);

	/* at temperature 1 with no filters, draws follow softmax over the
	 * allowed tokens alone: after "{", tokens 2 ("}") and 6 ("\"a\":") with
	 * logits 0 and log 3, so 1/4 and 3/4 (" " is allowed too, at -1e30) */
	p = mrt_sampler_default_params();
	p.temperature = 1, p.top_k = 0, p.top_p = 1, p.min_p = 0, p.seed = 7;
	s = mrt_sampler_new(&p, 8);
	float l2[8] = {2, 2, 0, -1e30f, 3, 1, 1.0986123f, 2};
	t.piece = piece;
	mrt_json_init(&t.st);
	CHECK(mrt_json_feed(&t.st, "{", 1) == 0);
	int count[8] = {0}, draws = 20000;
	for (int i = 0; i < draws; i++) {
		int32_t tok = mrt_sampler_sample_allowed(s, l2, toy_allowed, toy_fill, &t);
		CHECK(tok == 2 || tok == 6);
		if (tok >= 0 && tok < 8)
			count[tok]++;
	}
	CHECK_NEAR((double)count[2] / draws, 0.25, 0.02);
	CHECK_NEAR((double)count[6] / draws, 0.75, 0.02);
	mrt_sampler_free(s);
}

/* Depth: 64 containers open, not 65; a literal cut short is not done. */
static void test_bounds(void)
{
	mrt_json_state st;
	char text[200];
	int n = 0;
	text[n++] = '{', text[n++] = '"', text[n++] = 'a', text[n++] = '"', text[n++] = ':';
	for (int i = 0; i < 63; i++)
		text[n++] = '[';
	mrt_json_init(&st);
	CHECK(mrt_json_feed(&st, text, (size_t)n) == 0);
	mrt_json_state deeper = st;
	CHECK(mrt_json_feed(&deeper, "[", 1) != 0);
	deeper = st;
	CHECK(mrt_json_feed(&deeper, "{", 1) != 0);
	CHECK(mrt_json_feed(&st, "1", 1) == 0 && !mrt_json_done(&st));
	mrt_json_init(&st);
	CHECK(mrt_json_feed(&st, "{\"a\":tr", 7) == 0 && !mrt_json_done(&st));
	CHECK(mrt_json_feed(&st, "ue}", 3) == 0 && mrt_json_done(&st));
	CHECK(mrt_json_feed(NULL, "{", 1) == MRT_ERR_INVALID);
}

int main(void)
{
	test_cases();
	test_sample_allowed();
	test_bounds();
	TEST_END();
}
