/* Whether a text can still grow into one JSON object (RFC 8259 with the
 * root an object): a byte-at-a-time pushdown automaton for JSON-constrained
 * generation (OpenAI's response_format json_object). A sampler asks it
 * whether a token's bytes keep the output such a prefix. Strings must stay
 * valid UTF-8; whitespace between tokens is bounded as llama.cpp's JSON
 * grammar bounds it (at most a newline, then up to MRT_JSON_MAX_INDENT
 * spaces or tabs), so a model cannot pad forever; containers nest at most
 * MRT_JSON_MAX_DEPTH deep. */
#include <string.h>

#include "mrt_llm.h"

enum json_mode {
	J_START,     /* before the root: '{' */
	J_OBJ_FIRST, /* after '{': a key's '"' or '}' */
	J_OBJ_KEY,   /* after ',' in an object: a key's '"' */
	J_COLON,     /* after a key: ':' */
	J_VALUE,     /* after ':', or ',' in an array: a value */
	J_ARR_FIRST, /* after '[': a value or ']' */
	J_AFTER,     /* after a value inside a container: ',' or its closer */
	J_STR,       /* in a string (st->key: a key) */
	J_ESC,       /* after a backslash */
	J_HEX,       /* after \u: aux hex digits read */
	J_UTF8,      /* in a multibyte character: aux bytes left, the next in lo..hi */
	J_MINUS,     /* numbers: after '-' */
	J_ZERO,      /* a leading 0 */
	J_INT,       /* integer digits */
	J_DOT,       /* after '.' */
	J_FRAC,      /* fraction digits */
	J_EXP,       /* after 'e' */
	J_EXP_SIGN,  /* after the exponent's sign */
	J_EXP_DIGITS,
	J_LIT, /* in true / false / null: aux = literal * 8 + bytes read */
	J_DONE /* the root object is closed: whitespace only */
};

static const char *const literals[3] = {"true", "false", "null"};

void mrt_json_init(mrt_json_state *st)
{
	memset(st, 0, sizeof(*st));
	st->mode = J_START;
}

int mrt_json_done(const mrt_json_state *st)
{
	return st->mode == J_DONE;
}

/* Whitespace between tokens: a newline only as the first byte of a run,
 * then at most MRT_JSON_MAX_INDENT spaces or tabs; no carriage return. */
static int whitespace(mrt_json_state *st, unsigned c)
{
	if (c == '\n') {
		if (st->ws || st->nl)
			return -1;
		st->nl = 1;
		return 0;
	}
	return ++st->ws > MRT_JSON_MAX_INDENT ? -1 : 0;
}

static int is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static int top_is_object(const mrt_json_state *st)
{
	return (int)(st->objects >> (st->depth - 1) & 1);
}

/* A value ended: the container's ',' or closer comes next, or nothing
 * once the root has closed. */
static int end_value(mrt_json_state *st)
{
	st->mode = st->depth == 0 ? J_DONE : J_AFTER;
	return 0;
}

static int open_container(mrt_json_state *st, int object)
{
	if (st->depth >= MRT_JSON_MAX_DEPTH)
		return -1;
	if (object)
		st->objects |= (uint64_t)1 << st->depth;
	else
		st->objects &= ~((uint64_t)1 << st->depth);
	st->depth++;
	st->mode = object ? J_OBJ_FIRST : J_ARR_FIRST;
	return 0;
}

static int close_container(mrt_json_state *st)
{
	st->depth--;
	return end_value(st);
}

/* The first byte of a value (the root is always an object). */
static int value_start(mrt_json_state *st, unsigned c)
{
	switch (c) {
	case '{':
		return open_container(st, 1);
	case '[':
		return open_container(st, 0);
	case '"':
		st->mode = J_STR, st->key = 0;
		return 0;
	case '-':
		st->mode = J_MINUS;
		return 0;
	case '0':
		st->mode = J_ZERO;
		return 0;
	case 't':
		st->mode = J_LIT, st->aux = 0 * 8 + 1;
		return 0;
	case 'f':
		st->mode = J_LIT, st->aux = 1 * 8 + 1;
		return 0;
	case 'n':
		st->mode = J_LIT, st->aux = 2 * 8 + 1;
		return 0;
	default:
		if (c >= '1' && c <= '9') {
			st->mode = J_INT;
			return 0;
		}
		return -1;
	}
}

/* A byte of a string's content at or above 0x80: a UTF-8 lead byte (RFC
 * 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_lead(mrt_json_state *st, unsigned c)
{
	st->lo = 0x80, st->hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		st->aux = 1;
	else if (c >= 0xe0 && c <= 0xef)
		st->aux = 2, st->lo = c == 0xe0 ? 0xa0 : 0x80, st->hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		st->aux = 3, st->lo = c == 0xf0 ? 0x90 : 0x80, st->hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return -1;
	st->mode = J_UTF8;
	return 0;
}

/* Whether the mode sits between tokens, where whitespace may come. */
static int between_tokens(int mode)
{
	return mode <= J_AFTER || mode == J_DONE;
}

/* One byte; 0 when the text so far is still a prefix of a JSON object. */
static int step(mrt_json_state *st, unsigned c)
{
	if (between_tokens(st->mode)) {
		if (c == ' ' || c == '\t' || c == '\n')
			return whitespace(st, c);
		st->ws = st->nl = 0;
	}
	switch (st->mode) {
	case J_START:
		return c == '{' ? open_container(st, 1) : -1;
	case J_OBJ_FIRST:
		if (c == '}')
			return close_container(st);
		/* fall through */
	case J_OBJ_KEY:
		if (c != '"')
			return -1;
		st->mode = J_STR, st->key = 1;
		return 0;
	case J_COLON:
		if (c != ':')
			return -1;
		st->mode = J_VALUE;
		return 0;
	case J_ARR_FIRST:
		if (c == ']')
			return close_container(st);
		/* fall through */
	case J_VALUE:
		return value_start(st, c);
	case J_AFTER:
		if (c == ',') {
			st->mode = top_is_object(st) ? J_OBJ_KEY : J_VALUE;
			return 0;
		}
		if (c == (top_is_object(st) ? '}' : ']'))
			return close_container(st);
		return -1;
	case J_STR:
		if (c == '"') {
			if (st->key) {
				st->mode = J_COLON;
				return 0;
			}
			return end_value(st);
		}
		if (c == '\\') {
			st->mode = J_ESC;
			return 0;
		}
		if (c < 0x20)
			return -1;
		return c < 0x80 ? 0 : utf8_lead(st, c);
	case J_ESC:
		if (c == 'u') {
			st->mode = J_HEX, st->aux = 0;
			return 0;
		}
		if (c && strchr("\"\\/bfnrt", (int)c)) {
			st->mode = J_STR;
			return 0;
		}
		return -1;
	case J_HEX:
		if (!is_digit(c) && !((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
			return -1;
		if (++st->aux == 4)
			st->mode = J_STR;
		return 0;
	case J_UTF8:
		if (c < st->lo || c > st->hi)
			return -1;
		st->lo = 0x80, st->hi = 0xbf;
		if (--st->aux == 0)
			st->mode = J_STR;
		return 0;
	case J_MINUS:
		if (c == '0')
			st->mode = J_ZERO;
		else if (c >= '1' && c <= '9')
			st->mode = J_INT;
		else
			return -1;
		return 0;
	case J_INT:
		if (is_digit(c))
			return 0;
		/* fall through */
	case J_ZERO:
		if (c == '.') {
			st->mode = J_DOT;
			return 0;
		}
		/* fall through */
	case J_FRAC:
		if (st->mode == J_FRAC && is_digit(c))
			return 0;
		if (c == 'e' || c == 'E') {
			st->mode = J_EXP;
			return 0;
		}
		break; /* the number ended before c */
	case J_DOT:
		if (!is_digit(c))
			return -1;
		st->mode = J_FRAC;
		return 0;
	case J_EXP:
		if (c == '+' || c == '-') {
			st->mode = J_EXP_SIGN;
			return 0;
		}
		/* fall through */
	case J_EXP_SIGN:
		if (!is_digit(c))
			return -1;
		st->mode = J_EXP_DIGITS;
		return 0;
	case J_EXP_DIGITS:
		if (is_digit(c))
			return 0;
		break; /* the number ended before c */
	case J_LIT: {
		const char *lit = literals[st->aux / 8];
		int pos = st->aux % 8;
		if (c != (unsigned char)lit[pos])
			return -1;
		st->aux++;
		return lit[pos + 1] == '\0' ? end_value(st) : 0;
	}
	default:
		return -1; /* J_DONE: only whitespace, taken above */
	}
	/* numbers only: c is the first byte after one (numbers sit inside
	 * containers, so what follows is a ',', a closer or whitespace) */
	end_value(st);
	return step(st, c);
}

int mrt_json_feed(mrt_json_state *st, const char *s, size_t n)
{
	if (st == NULL || (s == NULL && n > 0))
		return MRT_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (step(st, (unsigned char)s[i]) < 0)
			return MRT_ERR_INVALID;
	return 0;
}
