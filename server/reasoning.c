/* Reasoning apart from content in chat answers: see reasoning.h. */
#include "reasoning.h"

#include <string.h>

#define OPEN_TAG "<think>"
#define CLOSE_TAG "</think>"

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *text, size_t i, size_t len)
{
	while (i < len && is_ws(text[i]))
		i++;
	return i;
}

/* The end of [from, to) without its trailing whitespace. */
static size_t trim_end(const char *text, size_t from, size_t to)
{
	while (to > from && is_ws(text[to - 1]))
		to--;
	return to;
}

/* Length of the longest tail of text[from, len) that is a proper prefix of
 * tag: bytes that may become the tag when more arrive. */
static size_t tag_tail(const char *text, size_t from, size_t len, const char *tag)
{
	size_t n = strlen(tag);
	for (size_t k = n - 1; k > 0; k--)
		if (len - from >= k && memcmp(text + len - k, tag, k) == 0)
			return k;
	return 0;
}

/* First occurrence of tag in text[from, len), or len. */
static size_t find(const char *text, size_t from, size_t len, const char *tag)
{
	size_t n = strlen(tag);
	for (size_t i = from; i + n <= len; i++)
		if (text[i] == tag[0] && memcmp(text + i, tag, n) == 0)
			return i;
	return len;
}

void srv_think_init(srv_think *t, int open)
{
	memset(t, 0, sizeof(*t));
	t->state = open ? SRV_THINK_IN : SRV_THINK_START;
}

void srv_think_update(srv_think *t, const char *text, size_t len, int final)
{
	if (t->state == SRV_THINK_START) {
		size_t p = skip_ws(text, 0, len), n = strlen(OPEN_TAG);
		if (len - p >= n && memcmp(text + p, OPEN_TAG, n) == 0) {
			t->state = SRV_THINK_IN;
			t->open_end = t->scan = p + n;
		} else if (final || len - p >= n ||
		           (len > p && memcmp(text + p, OPEN_TAG, len - p) != 0)) {
			t->state = SRV_THINK_NONE;
		} else { /* nothing yet, or the start of a <think> */
			t->r0 = t->r1 = t->c0 = t->c1 = 0;
			return;
		}
	}
	if (t->state == SRV_THINK_NONE) {
		t->r0 = t->r1 = 0;
		t->c0 = 0, t->c1 = len;
		return;
	}
	if (t->state == SRV_THINK_IN) {
		size_t at = find(text, t->scan, len, CLOSE_TAG);
		if (at < len) {
			t->state = SRV_THINK_OUT;
			t->close_at = at;
			t->close_end = at + strlen(CLOSE_TAG);
		} else {
			/* resume where a tag cut at the end could start */
			size_t n = strlen(CLOSE_TAG);
			t->scan = len - t->open_end >= n ? len - (n - 1) : t->open_end;
		}
	}
	size_t r_to = t->state == SRV_THINK_OUT ? t->close_at
	              : final                   ? len
	                                        : len - tag_tail(text, t->open_end, len, CLOSE_TAG);
	t->r0 = skip_ws(text, t->open_end, r_to);
	t->r1 = trim_end(text, t->r0, r_to);
	if (t->state != SRV_THINK_OUT) {
		t->c0 = t->c1 = len;
		return;
	}
	/* content: held while it is whitespace, unless the answer is complete */
	t->c0 = skip_ws(text, t->close_end, len);
	t->c1 = len;
	if (t->c0 == len && !final)
		t->c1 = t->c0;
}

int srv_think_format_known(const char *f)
{
	return strcmp(f, "auto") == 0 || strcmp(f, "deepseek") == 0 || strcmp(f, "none") == 0;
}

int srv_think_prompt_open(const char *prompt)
{
	size_t len = strlen(prompt), n = strlen(OPEN_TAG);
	size_t end = trim_end(prompt, 0, len);
	return end >= n && memcmp(prompt + end - n, OPEN_TAG, n) == 0;
}
