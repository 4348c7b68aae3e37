/* Schema-constrained JSON output against Debian's python3-jsonschema
 * (tests/fixtures/json/schema_cases.txt, made by make_schema_cases.py):
 * for 12 schemas, every case's verdict must match; every prefix of an
 * accepted text is accepted and done only from the root's closing brace.
 * Then schemas that must be refused, each with its message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_cases.h"
#include "json_schema.h"
#include "test.h"

static void check_case(const srv_schema *s, int want, const unsigned char *data, size_t n, int line,
                       int *prefixes)
{
	srv_schema_state st, b;
	srv_schema_start(&st, s);
	int whole = srv_schema_feed(&st, (const char *)data, n) == 0 && srv_schema_done(&st);
	/* byte by byte through srv_schema_try, as the sampler asks */
	size_t i = 0;
	srv_schema_start(&b, s);
	for (; i < n && srv_schema_try(&b, (const char *)data + i, 1); i++)
		srv_schema_feed(&b, (const char *)data + i, 1);
	int by_byte = i == n && srv_schema_done(&b);
	if (whole != want || by_byte != want)
		fprintf(stderr, "line %d: got %d/%d (byte %zu), python3-jsonschema %d: %.*s\n",
		        line, whole, by_byte, i, want, (int)n, data);
	CHECK_EQ_INT(whole, want);
	CHECK_EQ_INT(by_byte, want);
	if (!want)
		return;
	size_t close = json_case_root_close(data, n);
	for (size_t k = 0; k <= n; k++) {
		srv_schema_start(&st, s);
		int ok = srv_schema_feed(&st, (const char *)data, k) == 0;
		if (!ok || srv_schema_done(&st) != (k > close)) {
			fprintf(stderr, "line %d: prefix of %zu bytes: fed %d, done %d\n", line, k,
			        ok, srv_schema_done(&st));
			CHECK(0);
			return;
		}
		(*prefixes)++;
	}
}

static void test_cases(void)
{
	FILE *f = json_case_open("schema_cases.txt");
	CHECK(f != NULL);
	if (!f)
		return;
	static char line[1 << 16];
	static unsigned char data[1 << 15];
	srv_schema *s = NULL;
	int schemas = 0, cases = 0, accepted = 0, prefixes = 0, lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\n");
		lineno++;
		size_t n = json_case_unhex(line + 2, len - 2, data);
		if (line[0] == 'S') {
			char err[256] = "";
			json_error_t je;
			json_t *js = json_loadb((const char *)data, n, 0, &je);
			srv_schema_free(s);
			s = js ? srv_schema_compile(js, err, sizeof(err)) : NULL;
			if (!s)
				fprintf(stderr, "line %d: schema refused: %s\n", lineno, err);
			CHECK(s != NULL);
			json_decref(js);
			schemas++;
			continue;
		}
		if (!s)
			continue;
		int want = line[0] == '1';
		check_case(s, want, data, n, lineno, &prefixes);
		cases++;
		accepted += want;
	}
	srv_schema_free(s);
	fclose(f);
	fprintf(stderr, "%d schemas, %d cases (%d accepted), %d prefixes\n", schemas, cases,
	        accepted, prefixes);
	CHECK(schemas == 15);
	CHECK(accepted > 400 && cases - accepted > 400);
}

/* Schemas the output cannot keep: refused with a message naming why. */
static void test_refused(void)
{
	static const char *const bad[][2] = {
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"x\"}}}",
	     "#/properties/a: \"pattern\" is not supported"},
	    {"{\"type\":\"array\"}", "root must be an object"},
	    {"{\"type\":[\"object\",\"null\"]}", "root must be an object"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"object\"},"
	     "{\"type\":\"object\",\"properties\":{\"b\":{}}}]}}}",
	     "start alike"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\",\"minimum\":0}}}",
	     "\"minimum\" is kept only beside \"type\": \"integer\""},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":2.5,"
	     "\"exclusiveMaximum\":3}}}",
	     "no integer the output may write meets the bounds"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"maximum\":\"9\"}}"
	     "}",
	     "\"maximum\" must be a number"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
	     "\"minimum\":10000000000000000}}}",
	     "no integer the output may write meets the bounds"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/s\",\"maxLength\":2}},"
	     "\"$defs\":{\"s\":{\"type\":\"string\"}}}",
	     "kept only beside \"type\": \"string\""},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/i\",\"minimum\":5}},"
	     "\"$defs\":{\"i\":{\"type\":\"integer\"}}}",
	     "kept only beside \"type\": \"integer\""},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[\"xy\"],\"maxLength\":1}}}",
	     "kept only beside \"type\": \"string\""},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"minLength\":3,"
	     "\"maxLength\":2}}}",
	     "\"minLength\" is above \"maxLength\""},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":-1}}}",
	     "\"maxLength\" must be a non-negative integer"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":true}",
	     "\"additionalProperties\" beside \"properties\""},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/missing\"}}}",
	     "\"$ref\" must name"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/"
	     "b\"}},\"$defs\":{\"b\":"
	     "{\"$ref\":\"#/$defs/b\"}}}",
	     "stands for itself"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"date\"}}}", "unknown type"},
	    {"{\"type\":\"object\",\"required\":[\"z\"],\"properties\":{\"a\":{}}}",
	     "not declared"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"minItems\":3,"
	     "\"maxItems\":2}}}",
	     "\"minItems\" is above"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[]}}}", "enum holds 0 values"},
	    {"{\"type\":\"object\",\"properties\":{\"a\":false}}", "must be an object or true"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		json_error_t je;
		json_t *js = json_loads(bad[i][0], 0, &je);
		CHECK(js != NULL);
		srv_schema *s = js ? srv_schema_compile(js, err, sizeof(err)) : NULL;
		CHECK(s == NULL);
		CHECK_STR_CONTAINS(err, bad[i][1]);
		srv_schema_free(s);
		json_decref(js);
	}
}

/* Exact behaviour at a few points: what may come next. */
/* A bounded string's count ends with it: a number after it in the same
 * array is not counted (it was, and was refused, before this check). */
static void test_bounded_mix(void)
{
	char err[256];
	json_error_t je;
	json_t *js = json_loads("{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\","
	                        "\"items\":{\"type\":[\"string\",\"integer\"],\"maxLength\":1}}}}",
	                        0, &je);
	srv_schema *s = js ? srv_schema_compile(js, err, sizeof(err)) : NULL;
	CHECK(s != NULL);
	if (s) {
		srv_schema_state st;
		srv_schema_start(&st, s);
		CHECK(srv_schema_feed(&st, "{\"l\":[\"x\",12,\"y\",345]}", 22) == 0 &&
		      srv_schema_done(&st));
		srv_schema_start(&st, s);
		CHECK(!srv_schema_try(&st, "{\"l\":[12,\"xy\"", 13));
	}
	srv_schema_free(s);
	json_decref(js);
}

/* A schema's feed verdict on text (1: the text can still grow into a value). */
static int takes(const char *schema, const char *text)
{
	char err[256];
	json_error_t je;
	json_t *js = json_loads(schema, 0, &je);
	srv_schema *s = js ? srv_schema_compile(js, err, sizeof(err)) : NULL;
	int ok = -1;
	if (s) {
		srv_schema_state st;
		srv_schema_start(&st, s);
		ok = srv_schema_feed(&st, text, strlen(text)) == 0;
	}
	srv_schema_free(s);
	json_decref(js);
	return ok;
}

/* Edges a review found: no escape may start at maxLength (it could never
 * end) but a low surrogate's after a high one's; integer bounds past 2^53
 * exact. */
static void test_bound_edges(void)
{
	const char *s1 = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
	                 "\"maxLength\":1}},\"required\":[\"a\"]}";
	CHECK_EQ_INT(takes(s1, "{\"a\":\"x\\"), 0);
	CHECK_EQ_INT(takes(s1, "{\"a\":\"\\n\\"), 0);
	CHECK_EQ_INT(takes(s1, "{\"a\":\"\\ud83d\\ude00\"}"), 1);
	CHECK_EQ_INT(takes(s1, "{\"a\":\"\\ud83d\\n"), 0);
	CHECK_EQ_INT(takes(s1, "{\"a\":\"\\ud83d\\ud8"), 0);
	CHECK_EQ_INT(takes(s1, "{\"a\":\"\\ud83d\\uDC"), 1);
	const char *s0 = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
	                 "\"maxLength\":0}}}";
	CHECK_EQ_INT(takes(s0, "{\"a\":\"\\"), 0);
	CHECK_EQ_INT(takes(s0, "{\"a\":\"\"}"), 1);
	const char *big = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
	                  "\"exclusiveMinimum\":9007199254740992},\"b\":{\"type\":\"integer\","
	                  "\"maximum\":-9007199254740993}}}";
	CHECK_EQ_INT(takes(big, "{\"a\":9007199254740992,"), 0);
	CHECK_EQ_INT(takes(big, "{\"a\":9007199254740993,"), 1);
	CHECK_EQ_INT(takes(big, "{\"b\":-9007199254740992}"), 0);
	CHECK_EQ_INT(takes(big, "{\"b\":-9007199254740993}"), 1);
}

static void test_points(void)
{
	char err[256];
	json_error_t je;
	json_t *js = json_loads("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
	                        "\"b\":{\"enum\":[1,12]},\"c\":{\"type\":\"string\"}},"
	                        "\"required\":[\"c\"]}",
	                        0, &je);
	srv_schema *s = srv_schema_compile(js, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	srv_schema_state st;
	srv_schema_start(&st, s);
	CHECK(srv_schema_try(&st, "{\"a\"", 4));
	CHECK(srv_schema_try(&st, "{\"c\"", 4));
	CHECK(!srv_schema_try(&st, "{\"d\"", 4));
	CHECK(!srv_schema_try(&st, "{}", 2));                  /* c is required */
	CHECK(!srv_schema_try(&st, "{\"c\":\"x\",\"a\"", 12)); /* a before c only */
	CHECK(!srv_schema_try(&st, "{\"a\":1.5", 8));          /* an integer */
	CHECK(srv_schema_try(&st, "{\"a\":-15,\"b\":1", 14));
	CHECK(srv_schema_try(&st, "{\"b\":12,", 8));
	CHECK(!srv_schema_try(&st, "{\"b\":13", 7));
	CHECK(!srv_schema_try(&st, "{\"b\":1 2", 8));
	CHECK(srv_schema_feed(&st, "{ \"b\":1, \"c\":\"\\u00e9\"}", 22) == 0 &&
	      srv_schema_done(&st));
	CHECK(!srv_schema_try(&st, "x", 1));
	CHECK(srv_schema_try(&st, " ", 1));
	srv_schema_free(s);
	json_decref(js);
}

int main(void)
{
	test_cases();
	test_refused();
	test_points();
	test_bounded_mix();
	test_bound_edges();
	TEST_END();
}
