/* srv_tojson against Python's json.dumps(ensure_ascii=False): each text of
 * tests/fixtures/json/tojson_cases.txt (make_tojson_cases.py: hand cases for
 * the float forms and escapes, 400 random values with random doubles) is
 * read by jansson as the server reads a request, then written flat, with
 * indent=4 and compact; each must equal Python's bytes. And 3000 random
 * values (doubles from random bit patterns) must read back equal. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_cases.h"
#include "test.h"
#include "tojson.h"

static const char *const kinds[4] = {"IN", "FLAT", "INDENT", "COMPACT"};
static const int styles[3] = {SRV_TOJSON_FLAT, SRV_TOJSON_INDENT4, SRV_TOJSON_COMPACT};

static void test_cases(void)
{
	FILE *f = json_case_open("tojson_cases.txt");
	CHECK(f != NULL);
	if (!f)
		return;
	static char line[1 << 16];
	static unsigned char text[4][1 << 15];
	size_t len[4];
	int cases = 0, bad = 0, k = 0, reals = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n"), kl = strlen(kinds[k]);
		CHECK(strncmp(line, kinds[k], kl) == 0 && line[kl] == ' ');
		len[k] = json_case_unhex(line + kl + 1, n - kl - 1, text[k]);
		text[k][len[k]] = 0;
		if (++k < 4)
			continue;
		k = 0;
		cases++;
		json_error_t je;
		json_t *v = json_loadb((const char *)text[0], len[0], JSON_DECODE_ANY, &je);
		CHECK(v != NULL);
		if (!v) {
			fprintf(stderr, "case %d: jansson refused %s: %s\n", cases, text[0],
			        je.text);
			continue;
		}
		reals += strstr((const char *)text[1], ".") != NULL;
		for (int s = 0; s < 3; s++) {
			char *out = srv_tojson(v, styles[s]);
			int ok = out && strlen(out) == len[s + 1] &&
			         memcmp(out, text[s + 1], len[s + 1]) == 0;
			CHECK(ok);
			if (!ok && bad++ < 8)
				fprintf(stderr,
				        "case %d %s:\n  in     %s\n  python %s\n  modeld %s\n",
				        cases, kinds[s + 1], text[0], text[s + 1],
				        out ? out : "(null)");
			free(out);
		}
		json_decref(v);
	}
	fclose(f);
	fprintf(stderr, "%d cases (%d with a point in the text), %d differ\n", cases, reals, bad);
	CHECK(cases >= 400);
	CHECK(reals >= 200);
}

/* Python's repr at the boundaries, written here from its documented rule
 * (the shortest round-trip digits; positional for 1e-4 <= |x| < 1e16). */
static void test_points(void)
{
	static const struct {
		double x;
		const char *repr;
	} c[] = {
	    {0.1, "0.1"},
	    {1.0 / 3, "0.3333333333333333"},
	    {1e-4, "0.0001"},
	    {9.9e-5, "9.9e-05"},
	    {1e16, "1e+16"},
	    {9999999999999998.0, "9999999999999998.0"},
	    {-2.5e-300, "-2.5e-300"},
	    {123456789.0, "123456789.0"},
	    {-0.0, "-0.0"},
	    {0.0, "0.0"},
	    {5e-324, "5e-324"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	};
	char buf[32];
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		srv_py_float(c[i].x, buf);
		if (strcmp(buf, c[i].repr) != 0)
			fprintf(stderr, "%.17g: %s, want %s\n", c[i].x, buf, c[i].repr);
		CHECK(strcmp(buf, c[i].repr) == 0);
	}
	/* a NULL value and nesting past the bound give NULL, no crash */
	CHECK(srv_tojson(NULL, SRV_TOJSON_FLAT) == NULL);
	json_t *deep = json_array(), *at = deep;
	for (int i = 0; i < 3000; i++) {
		json_t *in = json_array();
		json_array_append_new(at, in);
		at = in;
	}
	CHECK(srv_tojson(deep, SRV_TOJSON_COMPACT) == NULL);
	json_decref(deep);
}

/* A random value: objects, arrays, strings of any bytes but NUL that are
 * UTF-8, integers and doubles from random bit patterns. */
static json_t *random_value(uint64_t *rng, int depth)
{
	uint64_t r = test_xorshift64(rng);
	switch (depth > 3 ? r % 4 : r % 6) {
	case 0: {
		double x;
		uint64_t bits = test_xorshift64(rng);
		memcpy(&x, &bits, sizeof(x));
		if (x != x || x - x != 0) /* NaN or infinite: not JSON */
			x = (double)(int64_t)bits / 1e10;
		return json_real(x);
	}
	case 1:
		return json_integer((json_int_t)test_xorshift64(rng));
	case 2: {
		static const char *const parts[] = {
		    "a",    "\"",   "\\",       "\n",           "\x01",
		    "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		    "/",    " "};
		char buf[64] = "";
		for (int i = 0, n = (int)(test_xorshift64(rng) % 8); i < n; i++)
			strcat(buf, parts[test_xorshift64(rng) % 12]);
		return json_string(buf);
	}
	case 3:
		return (r >> 8) % 3 == 0   ? json_true()
		       : (r >> 8) % 3 == 1 ? json_false()
		                           : json_null();
	case 4: {
		json_t *a = json_array();
		for (int i = 0, n = (int)(test_xorshift64(rng) % 5); i < n; i++)
			json_array_append_new(a, random_value(rng, depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (int i = 0, n = (int)(test_xorshift64(rng) % 5); i < n; i++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", (int)(test_xorshift64(rng) % 100));
			json_object_set_new(o, key, random_value(rng, depth + 1));
		}
		return o;
	}
	}
}

/* Every text read back by jansson is the value written, in each style:
 * reals included, so the shortest digits always name the same double. */
static void test_round_trip(void)
{
	uint64_t rng = 0x5eed5eed12345ull;
	int bad = 0;
	for (int i = 0; i < 3000; i++) {
		json_t *v = random_value(&rng, 0);
		for (int s = 0; s < 3; s++) {
			char *out = srv_tojson(v, styles[s]);
			json_error_t je;
			json_t *back = out ? json_loads(out, JSON_DECODE_ANY, &je) : NULL;
			int ok = back && json_equal(v, back);
			CHECK(ok);
			if (!ok && bad++ < 4)
				fprintf(stderr, "round trip %d/%d: %s\n", i, s,
				        out ? out : "(null)");
			json_decref(back);
			free(out);
		}
		json_decref(v);
	}
}

int main(void)
{
	test_cases();
	test_points();
	test_round_trip();
	TEST_END();
}
