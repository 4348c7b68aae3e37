/* Reading hex fixtures: the JSON output tests' (the .txt files of
 * tests/fixtures/json, lines "V HEX", the text as hexadecimal bytes) and
 * the hexadecimal texts of the tokenizer test's .detok files. */
#ifndef MODELD_JSON_CASES_H
#define MODELD_JSON_CASES_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tests/fixtures/json/NAME under $top_srcdir (or .), opened for reading;
 * NULL (and a message) when it cannot be. */
static inline FILE *json_case_open(const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/json/%s", top ? top : ".", name);
	FILE *f = fopen(path, "r");
	if (!f)
		fprintf(stderr, "cannot open %s\n", path);
	return f;
}

/* The bytes of len hexadecimal digits at s into out (OUT); their count. */
static inline size_t json_case_unhex(const char *s, size_t len, unsigned char *out)
{
	size_t n = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		int h = s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10;
		int l = s[i + 1] <= '9' ? s[i + 1] - '0' : s[i + 1] - 'a' + 10;
		out[n++] = (unsigned char)(h * 16 + l);
	}
	return n;
}

/* The index of the root's closing brace in a text that is one value: its
 * last byte that is not whitespace. */
static inline size_t json_case_root_close(const unsigned char *data, size_t n)
{
	while (n > 0 && strchr(" \t\n", data[n - 1]))
		n--;
	return n - 1;
}

#endif
