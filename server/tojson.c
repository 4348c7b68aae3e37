/* Python's json.dumps(ensure_ascii=False) text of a jansson value (see
 * tojson.h). */
#include "tojson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define TOJSON_MAX_DEPTH 2048

typedef srv_strbuf buf;

static void put(buf *b, const char *s, size_t n)
{
	srv_strbuf_put(b, s, n);
}

static void puts_(buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* e, a "%.*e" text [-]d[.ddd]e[+-]XX, made one unit of its last digit
 * larger in magnitude (9.99e+01 -> 1.00e+02). 1 when done. */
static int next_up(char *e)
{
	char *end = strchr(e, 'e');
	if (!end)
		return 0;
	char *d = end - 1;
	for (; d >= e && *d != '-'; d--) {
		if (*d == '.')
			continue;
		if (*d != '9') {
			(*d)++;
			return 1;
		}
		*d = '0';
	}
	/* all nines: 1 followed by zeros, one decade up */
	char *first = e[0] == '-' ? e + 1 : e;
	*first = '1';
	char exp[16];
	snprintf(exp, sizeof(exp), "%+03d", atoi(end + 1) + 1);
	strcpy(end + 1, exp);
	return 1;
}

char *srv_py_float(double x, char *out)
{
	char e[40], digits[20];
	int exp10 = 0, nd = 0;

	if (x == 0) {
		strcpy(out, signbit(x) ? "-0.0" : "0.0");
		return out;
	}
	/* the fewest significant digits that read back as x: the correctly
	 * rounded p digits are the closest p-digit decimal, which reads back
	 * as x if any p-digit text does, but for one case: at a power of two
	 * the doubles below are closer together than those above, so the
	 * closest may fall out below while the next p-digit decimal up reads
	 * back (2^-24 is 5.960464477539063e-08, not ...062e-08) */
	for (int p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, x);
		if (strtod(e, NULL) == x || (next_up(e) && strtod(e, NULL) == x))
			break; /* at p = 17 the first always does */
	}
	/* e is [-]d[.ddd]e[+-]XX */
	const char *s = e[0] == '-' ? e + 1 : e;
	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9')
			digits[nd++] = *s;
	exp10 = atoi(s + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = 0;

	/* Python's float_repr_style 'short' with repr's rule: the point sits
	 * after digit decpt (0.d1d2... x 10^decpt); positional when
	 * -4 < decpt <= 16 */
	int decpt = exp10 + 1, o = 0;
	if (x < 0)
		out[o++] = '-';
	if (decpt <= -4 || decpt > 16) {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		snprintf(out + o, 32 - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		return out;
	}
	if (decpt <= 0) {
		out[o++] = '0', out[o++] = '.';
		for (int i = 0; i < -decpt; i++)
			out[o++] = '0';
		memcpy(out + o, digits, (size_t)nd);
		o += nd;
	} else if (decpt < nd) {
		memcpy(out + o, digits, (size_t)decpt);
		o += decpt;
		out[o++] = '.';
		memcpy(out + o, digits + decpt, (size_t)(nd - decpt));
		o += nd - decpt;
	} else {
		memcpy(out + o, digits, (size_t)nd);
		o += nd;
		for (int i = nd; i < decpt; i++)
			out[o++] = '0';
		out[o++] = '.', out[o++] = '0';
	}
	out[o] = 0;
	return out;
}

/* A string as json.dumps writes it with ensure_ascii=False: the two
 * quotes' and the five short escapes, other control characters as \u00xx
 * in lower case, every other byte as it is. */
static void put_string(buf *b, const char *s, size_t n)
{
	size_t run = 0;
	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		default:
			if (c < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			}
		}
		if (!esc)
			continue;
		put(b, s + run, i - run);
		puts_(b, esc);
		run = i + 1;
	}
	put(b, s + run, n - run);
	put(b, "\"", 1);
}

static void newline(buf *b, int style, int depth)
{
	if (style != SRV_TOJSON_INDENT4)
		return;
	put(b, "\n", 1);
	for (int i = 0; i < depth; i++)
		put(b, "    ", 4);
}

static void put_value(buf *b, const json_t *v, int style, int depth)
{
	const char *item = style == SRV_TOJSON_FLAT ? ", " : ",";
	const char *colon = style == SRV_TOJSON_COMPACT ? ":" : ": ";
	char num[40];

	if (depth > TOJSON_MAX_DEPTH) {
		b->failed = 1;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;
		int first = 1;
		if (json_object_size(v) == 0) {
			puts_(b, "{}");
			return;
		}
		put(b, "{", 1);
		json_object_foreach((json_t *)v, key, val)
		{
			if (!first)
				puts_(b, item);
			first = 0;
			newline(b, style, depth + 1);
			put_string(b, key, strlen(key));
			puts_(b, colon);
			put_value(b, val, style, depth + 1);
		}
		newline(b, style, depth);
		put(b, "}", 1);
		return;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *val;
		if (json_array_size(v) == 0) {
			puts_(b, "[]");
			return;
		}
		put(b, "[", 1);
		json_array_foreach(v, i, val)
		{
			if (i > 0)
				puts_(b, item);
			newline(b, style, depth + 1);
			put_value(b, val, style, depth + 1);
		}
		newline(b, style, depth);
		put(b, "]", 1);
		return;
	}
	case JSON_STRING:
		put_string(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		puts_(b, num);
		return;
	case JSON_REAL:
		puts_(b, srv_py_float(json_real_value(v), num));
		return;
	case JSON_TRUE:
		puts_(b, "true");
		return;
	case JSON_FALSE:
		puts_(b, "false");
		return;
	default:
		puts_(b, "null");
		return;
	}
}

char *srv_tojson(const json_t *v, int style)
{
	buf b = {0};
	if (!v)
		return NULL;
	put_value(&b, v, style, 0); /* every value writes something, so b.p is set */
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
