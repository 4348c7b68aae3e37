/* Whether a text can still grow into one JSON object (RFC 8259 with the
 * root an object): a byte-at-a-time pushdown automaton for JSON-constrained
 * generation (OpenAI's response_format json_object), and the lexer of
 * strings and numbers it shares with the server's schema automaton. A
 * sampler asks whether a token's bytes keep the output such a prefix.
 * Strings must stay valid UTF-8; numbers, and whitespace between tokens,
 * are bounded as llama.cpp's JSON grammar bounds them (see mrt_llm.h), so a
 * model cannot pad or count forever; containers nest at most
 * MRT_JSON_MAX_DEPTH deep. */
#include <string.h>

#include "mrt_llm.h"

/* ---- strings and numbers ---- */

enum lex_mode {
	L_STR = 0, /* in a string (mrt_json_lex_plain knows it as 0) */
	L_ESC,     /* after a backslash */
	L_HEX,     /* after \u: aux hex digits read */
	L_UTF8,    /* in a multibyte character: aux bytes left, the next in lo..hi */
	L_MINUS,
	L_ZERO, /* a leading 0 */
	L_INT,  /* aux integer digits */
	L_DOT,
	L_FRAC, /* aux fraction digits */
	L_EXP,  /* after 'e' */
	L_EXP_SIGN,
	L_EXP_DIGITS, /* aux exponent digits */
};

static int is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

void mrt_json_lex_string(mrt_json_lex *x)
{
	memset(x, 0, sizeof(*x));
	x->mode = L_STR;
}

int mrt_json_lex_number(mrt_json_lex *x, unsigned c, int integer)
{
	memset(x, 0, sizeof(*x));
	x->integer = (uint8_t)(integer != 0);
	if (c == '-')
		x->mode = L_MINUS;
	else if (c == '0')
		x->mode = L_ZERO;
	else if (c >= '1' && c <= '9')
		x->mode = L_INT, x->aux = 1;
	else
		return MRT_JSON_LEX_BAD;
	return MRT_JSON_LEX_MORE;
}

/* A string's byte at or above 0x80: a UTF-8 lead byte (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_lead(mrt_json_lex *x, unsigned c)
{
	x->lo = 0x80, x->hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		x->aux = 1;
	else if (c >= 0xe0 && c <= 0xef)
		x->aux = 2, x->lo = c == 0xe0 ? 0xa0 : 0x80, x->hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		x->aux = 3, x->lo = c == 0xf0 ? 0x90 : 0x80, x->hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return MRT_JSON_LEX_BAD;
	x->mode = L_UTF8;
	return MRT_JSON_LEX_MORE;
}

/* One more digit of a run that may hold at most max. */
static int digit(mrt_json_lex *x, int max)
{
	return ++x->aux > max ? MRT_JSON_LEX_BAD : MRT_JSON_LEX_MORE;
}

int mrt_json_lex_step(mrt_json_lex *x, unsigned c)
{
	switch (x->mode) {
	case L_STR:
		if (c == '"')
			return MRT_JSON_LEX_END;
		if (c == '\\')
			x->mode = L_ESC;
		else if (c < 0x20)
			return MRT_JSON_LEX_BAD;
		else if (c >= 0x80)
			return utf8_lead(x, c);
		return MRT_JSON_LEX_MORE;
	case L_ESC:
		if (c == 'u')
			x->mode = L_HEX, x->aux = 0;
		else if (c && strchr("\"\\/bfnrt", (int)c))
			x->mode = L_STR;
		else
			return MRT_JSON_LEX_BAD;
		return MRT_JSON_LEX_MORE;
	case L_HEX:
		if (!is_digit(c) && !((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
			return MRT_JSON_LEX_BAD;
		if (++x->aux == 4)
			x->mode = L_STR;
		return MRT_JSON_LEX_MORE;
	case L_UTF8:
		if (c < x->lo || c > x->hi)
			return MRT_JSON_LEX_BAD;
		x->lo = 0x80, x->hi = 0xbf;
		if (--x->aux == 0)
			x->mode = L_STR;
		return MRT_JSON_LEX_MORE;
	case L_MINUS:
		if (c == '-')
			return MRT_JSON_LEX_BAD;
		return mrt_json_lex_number(x, c, x->integer);
	case L_INT:
		if (is_digit(c))
			return digit(x, MRT_JSON_MAX_INT_DIGITS);
		/* fall through */
	case L_ZERO:
		if (c == '.') {
			if (x->integer)
				return MRT_JSON_LEX_BAD;
			x->mode = L_DOT;
			return MRT_JSON_LEX_MORE;
		}
		/* fall through */
	case L_FRAC:
		if (x->mode == L_FRAC && is_digit(c))
			return digit(x, MRT_JSON_MAX_FRAC_DIGITS);
		if (c == 'e' || c == 'E') {
			if (x->integer)
				return MRT_JSON_LEX_BAD;
			x->mode = L_EXP;
			return MRT_JSON_LEX_MORE;
		}
		return MRT_JSON_LEX_AFTER;
	case L_DOT:
		if (!is_digit(c))
			return MRT_JSON_LEX_BAD;
		x->mode = L_FRAC, x->aux = 1;
		return MRT_JSON_LEX_MORE;
	case L_EXP:
		if (c == '+' || c == '-') {
			x->mode = L_EXP_SIGN;
			return MRT_JSON_LEX_MORE;
		}
		/* fall through */
	case L_EXP_SIGN:
		if (!is_digit(c))
			return MRT_JSON_LEX_BAD;
		x->mode = L_EXP_DIGITS, x->aux = 1;
		return MRT_JSON_LEX_MORE;
	case L_EXP_DIGITS:
		if (is_digit(c))
			return digit(x, MRT_JSON_MAX_EXP_DIGITS);
		return MRT_JSON_LEX_AFTER;
	default:
		return MRT_JSON_LEX_BAD;
	}
}

/* A newline only as the first byte of a run, then at most
 * MRT_JSON_MAX_INDENT spaces or tabs; no carriage return. */
int mrt_json_space_step(mrt_json_space *w, unsigned c)
{
	if (c == '\n') {
		if (w->indent || w->newline)
			return MRT_JSON_LEX_BAD;
		w->newline = 1;
		return 1;
	}
	if (c == ' ' || c == '\t')
		return ++w->indent > MRT_JSON_MAX_INDENT ? MRT_JSON_LEX_BAD : 1;
	w->indent = w->newline = 0;
	return 0;
}

/* ---- the object automaton ---- */

enum json_mode {
	J_START,     /* before the root: '{' */
	J_OBJ_FIRST, /* after '{': a key's '"' or '}' */
	J_OBJ_KEY,   /* after ',' in an object: a key's '"' */
	J_COLON,     /* after a key: ':' */
	J_VALUE,     /* after ':', or ',' in an array: a value */
	J_ARR_FIRST, /* after '[': a value or ']' */
	J_AFTER,     /* after a value inside a container: ',' or its closer */
	J_SCALAR,    /* in a string (st->key: a key) or a number: st->lex */
	J_LIT,       /* in true / false / null: aux = literal * 8 + bytes read */
	J_DONE       /* the root object is closed: whitespace only */
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

int mrt_json_in_string(const mrt_json_state *st)
{
	return st->mode == J_SCALAR && mrt_json_lex_in_string(&st->lex);
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
		mrt_json_lex_string(&st->lex);
		st->mode = J_SCALAR, st->key = 0;
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
		st->mode = J_SCALAR;
		return mrt_json_lex_number(&st->lex, c, 0) == MRT_JSON_LEX_MORE ? 0 : -1;
	}
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
		int w = mrt_json_space_step(&st->space, c);
		if (w != 0)
			return w > 0 ? 0 : -1;
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
		mrt_json_lex_string(&st->lex);
		st->mode = J_SCALAR, st->key = 1;
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
	case J_SCALAR:
		if (mrt_json_lex_plain(&st->lex, c))
			return 0;
		switch (mrt_json_lex_step(&st->lex, c)) {
		case MRT_JSON_LEX_MORE:
			return 0;
		case MRT_JSON_LEX_END: /* a string's closing quote */
			if (st->key) {
				st->mode = J_COLON;
				return 0;
			}
			return end_value(st);
		case MRT_JSON_LEX_AFTER: /* a number ended before c (inside a container) */
			end_value(st);
			return step(st, c);
		default:
			return -1;
		}
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
