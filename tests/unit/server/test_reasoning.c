/* Reasoning apart from content (server/reasoning.c): hand cases of whole
 * answers against their expected split; then random answers made of tags,
 * pieces of tags, whitespace and text, fed as they would arrive (growing
 * prefixes cut at random): what may be streamed only grows, never moves its
 * start, and at the end equals a direct split of the whole answer by the
 * rules of reasoning.h (ref_split below, written with strstr). */
#include <string.h>

#include "reasoning.h"
#include "test.h"

static int ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The rules on a complete answer: *thinks, and the reasoning and content
 * copied into r and c. */
static void ref_split(const char *text, int open, int *thinks, char *r, char *c)
{
	const char *start = text;
	r[0] = c[0] = '\0';
	if (!open) {
		while (ws(*start))
			start++;
		if (strncmp(start, "<think>", 7) != 0) {
			*thinks = 0;
			strcpy(c, text);
			return;
		}
		start += 7;
	}
	*thinks = 1;
	const char *end = strstr(start, "</think>");
	const char *rend = end ? end : start + strlen(start);
	while (start < rend && ws(*start))
		start++;
	while (rend > start && ws(rend[-1]))
		rend--;
	memcpy(r, start, (size_t)(rend - start));
	r[rend - start] = '\0';
	if (end) {
		const char *cs = end + 8;
		while (ws(*cs))
			cs++;
		strcpy(c, cs);
	}
}

static void slice(char *dst, const char *text, size_t a, size_t b)
{
	memcpy(dst, text + a, b - a);
	dst[b - a] = '\0';
}

/* The whole answer at once. */
static void check_whole(const char *text, int open, const char *want_r, const char *want_c,
                        int want_thinks)
{
	srv_think t;
	char r[256], c[256];
	srv_think_init(&t, open);
	srv_think_update(&t, text, strlen(text), 1);
	slice(r, text, t.r0, t.r1);
	slice(c, text, t.c0, t.c1);
	CHECK_EQ_INT(t.state != SRV_THINK_NONE, want_thinks);
	if (strcmp(r, want_r) != 0 || strcmp(c, want_c) != 0) {
		fprintf(stderr, "answer \"%s\" (open %d): reasoning \"%s\" content \"%s\"\n", text,
		        open, r, c);
		CHECK(0);
	}
}

static void test_whole(void)
{
	/* DeepSeek-R1: the prompt opened the block */
	check_whole("Let me add.\n2+3=5.\n</think>\n\nIt is 5.", 1, "Let me add.\n2+3=5.",
	            "It is 5.", 1);
	check_whole("</think>Hi", 1, "", "Hi", 1);
	check_whole("still thinking when max_tokens came", 1, "still thinking when max_tokens came",
	            "", 1);
	check_whole("a</think>b</think>c", 1, "a", "b</think>c", 1);
	check_whole("", 1, "", "", 1);
	check_whole("x</think>\n\n", 1, "x", "", 1);
	/* the answer opens it (QwQ, SmolLM3) */
	check_whole("<think>\nhm\n</think>\nYes.", 0, "hm", "Yes.", 1);
	check_whole("\n <think>hm</think>Yes.", 0, "hm", "Yes.", 1);
	check_whole("<think>hm", 0, "hm", "", 1);
	check_whole("<think>", 0, "", "", 1);
	/* answers that do not think are left as they are */
	check_whole("  Hello there.", 0, "", "  Hello there.", 0);
	check_whole("Hello <think>x</think>", 0, "", "Hello <think>x</think>", 0);
	check_whole("<thin", 0, "", "<thin", 0);
	check_whole("<think", 0, "", "<think", 0);
	check_whole("", 0, "", "", 0);
	check_whole("</think>x", 0, "", "</think>x", 0);
	/* only the first close counts; tags with other text are text */
	check_whole("<thinking>a</think>b", 0, "", "<thinking>a</think>b", 0);
	check_whole("a </thinker> b</think>c", 1, "a </thinker> b", "c", 1);
	check_whole("é中文 😀</think> ü", 1, "é中文 😀", "ü", 1);
}

static void test_prompt_open(void)
{
	CHECK(srv_think_prompt_open("<｜User｜>Hi<｜Assistant｜><think>\n"));
	CHECK(srv_think_prompt_open("<think>"));
	CHECK(srv_think_prompt_open("x<think> \n\t"));
	CHECK(!srv_think_prompt_open("<|im_start|>assistant\n"));
	CHECK(!srv_think_prompt_open("<think>\n\n</think>\n"));
	CHECK(!srv_think_prompt_open("what does <think> mean?\nassistant:"));
	CHECK(!srv_think_prompt_open(""));
	CHECK(!srv_think_prompt_open("think>"));
	/* the names a config or a request may give */
	CHECK(srv_think_format_known("auto") && srv_think_format_known("deepseek") &&
	      srv_think_format_known("none"));
	CHECK(!srv_think_format_known("r1") && !srv_think_format_known("") &&
	      !srv_think_format_known("Auto") && !srv_think_format_known("deepseek "));
}

/* Feed text in random growing prefixes; check what a stream would send. */
static void check_stream(const char *text, int open, uint64_t *rng)
{
	size_t len = strlen(text), sent_r0 = 0, sent_r1 = 0, sent_c0 = 0, sent_c1 = 0;
	int r_started = 0, c_started = 0;
	srv_think t;
	srv_think_init(&t, open);
	for (size_t n = 0;;) {
		int final = n == len;
		srv_think_update(&t, text, n, final);
		CHECK(t.r0 <= t.r1 && t.r1 <= n && t.c0 <= t.c1 && t.c1 <= n);
		if (t.r1 > t.r0) { /* reasoning may be sent: its start never moves */
			if (r_started)
				CHECK(t.r0 == sent_r0 && t.r1 >= sent_r1);
			r_started = 1, sent_r0 = t.r0, sent_r1 = t.r1;
		}
		if (t.c1 > t.c0) {
			if (c_started)
				CHECK(t.c0 == sent_c0 && t.c1 >= sent_c1);
			c_started = 1, sent_c0 = t.c0, sent_c1 = t.c1;
		}
		if (final)
			break;
		n += 1 + test_xorshift64(rng) % 5;
		if (n > len)
			n = len;
	}
	int thinks;
	char want_r[512], want_c[512], r[512], c[512];
	ref_split(text, open, &thinks, want_r, want_c);
	if (r_started)
		slice(r, text, sent_r0, sent_r1);
	else
		r[0] = '\0';
	if (c_started)
		slice(c, text, sent_c0, sent_c1);
	else
		c[0] = '\0';
	CHECK_EQ_INT(t.state != SRV_THINK_NONE, thinks);
	if (strcmp(r, want_r) != 0 || strcmp(c, want_c) != 0) {
		fprintf(stderr, "streamed \"%s\" (open %d): reasoning \"%s\" content \"%s\"\n",
		        text, open, r, c);
		CHECK(0);
	}
}

static void test_stream(void)
{
	static const char *parts[] = {
	    "<think>", "</think>", "<",  "</", "</th", "<thi", "think>",   ">",           "a",
	    "bc",      " ",        "\n", "\t", "é",    "中",   "x</think", "</think>\n\n"};
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 4000; i++) {
		char text[256] = "";
		int n = (int)(test_xorshift64(&rng) % 12);
		for (int k = 0; k < n; k++)
			strcat(text,
			       parts[test_xorshift64(&rng) % (sizeof(parts) / sizeof(parts[0]))]);
		check_stream(text, (int)(test_xorshift64(&rng) % 2), &rng);
	}
}

int main(void)
{
	test_whole();
	test_prompt_open();
	test_stream();
	TEST_END();
}
