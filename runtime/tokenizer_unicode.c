/* Unicode for the byte-level BPE pre-tokenizers: code point classes (\p{L},
 * \p{N}, \s), UTF-8 decoding, GPT-2's byte <-> code point mapping, and the
 * pre-tokenizer regexes of GPT-2, Llama 3, SmolLM and tekken written out by
 * hand (the same splits as llama.cpp's unicode_regex_split_custom_* and its
 * per-fragment regex passes; test_tokenizer checks them word by word against
 * the regexes themselves). */
#include <stdlib.h>

#include "tokenizer_impl.h"
#include "tokenizer_unicode_data.h"

#define CP_ANY 8u /* any code point inside the text (not past its end) */
#define OUT_OF_RANGE 0xFFFFFFFFu

static int is_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

unsigned mrt__cp_class(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(cp_ranges) / sizeof(cp_ranges[0]);

	if (cp < 0x80) { /* the common case, without the search */
		if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
			return MRT__CP_LETTER;
		if (cp >= '0' && cp <= '9')
			return MRT__CP_NUMBER;
		return is_space(cp) ? MRT__CP_SPACE : 0;
	}
	if (is_space(cp))
		return MRT__CP_SPACE;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp < cp_ranges[mid].lo)
			hi = mid;
		else if (cp > cp_ranges[mid].hi)
			lo = mid + 1;
		else
			return cp_ranges[mid].cls;
	}
	return 0;
}

uint32_t mrt__utf8_decode(const unsigned char *s, size_t len, size_t *n)
{
	uint32_t cp, min;
	size_t k;

	*n = 1;
	if (s[0] < 0x80)
		return s[0];
	if ((s[0] & 0xE0) == 0xC0) {
		k = 2, cp = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		k = 3, cp = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		k = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0xFFFD;
	}
	if (k > len)
		return 0xFFFD;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0xFFFD;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0xFFFD;
	*n = k;
	return cp;
}

/* GPT-2: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * for U+0100.. in byte order. */
static int byte_is_printable(unsigned b)
{
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t mrt__byte_to_cp(unsigned char b)
{
	unsigned n = 0;

	if (byte_is_printable(b))
		return b;
	for (unsigned i = 0; i < b; i++)
		n += !byte_is_printable(i);
	return 0x100 + n;
}

int mrt__cp_to_byte(uint32_t cp)
{
	if (cp < 0x100)
		return byte_is_printable(cp) ? (int)cp : -1;
	for (unsigned b = 0, n = 0; b < 256; b++) {
		if (byte_is_printable(b))
			continue;
		if (0x100 + n == cp)
			return (int)b;
		n++;
	}
	return -1;
}

/* ---- pre-tokenizers ---- */

typedef struct cps {
	uint32_t *cp;   /* code points */
	uint32_t *off;  /* byte offset of each, plus the end at [n] */
	uint8_t *cls;   /* class bits | CP_ANY */
	size_t n, prev; /* count; end of the last word */
	mrt__word_fn fn;
	void *ctx;
} cps;

static uint32_t cp_at(const cps *c, size_t i)
{
	return i < c->n ? c->cp[i] : OUT_OF_RANGE;
}

static unsigned cls_at(const cps *c, size_t i)
{
	return i < c->n ? c->cls[i] : 0;
}

/* Close the word that ends before code point end. */
static int add_word(cps *c, size_t end)
{
	size_t start = c->prev;

	c->prev = end;
	if (end <= start)
		return 0;
	return c->fn(c->ctx, c->off[start], c->off[end] - c->off[start]);
}

static int lower_ascii(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z' ? (int)(cp + 32) : (int)cp;
}

/* 's 't 're 've 'm 'll 'd at pos: their length, else 0. */
static size_t contraction(const cps *c, size_t pos, int fold)
{
	int a, b;

	if (cp_at(c, pos) != '\'' || pos + 1 >= c->n)
		return 0;
	a = fold ? lower_ascii(c->cp[pos + 1]) : (int)c->cp[pos + 1];
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if (pos + 2 >= c->n)
		return 0;
	b = fold ? lower_ascii(c->cp[pos + 2]) : (int)c->cp[pos + 2];
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

#define LNS (MRT__CP_LETTER | MRT__CP_NUMBER | MRT__CP_SPACE)

/* Trailing whitespace: \s+(?!\S) leaves the last space for the next word. */
static size_t spaces_end(const cps *c, size_t pos)
{
	size_t k = 0;

	while (cls_at(c, pos + k) & MRT__CP_SPACE)
		k++;
	if (k > 1 && cp_at(c, pos + k) != OUT_OF_RANGE)
		return pos + k - 1;
	return pos + (k > 0 ? k : 1);
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * from code point pos to the end, c->n */
static int split_gpt2(cps *c, size_t pos)
{
	int rc = 0;

	while (rc == 0 && pos < c->n) {
		uint32_t cp = c->cp[pos];
		size_t k = contraction(c, pos, 0);
		unsigned f2 = cp == ' ' ? cls_at(c, pos + 1) : cls_at(c, pos);

		if (k > 0) {
			pos += k;
		} else if (f2 & (MRT__CP_LETTER | MRT__CP_NUMBER)) {
			unsigned want = f2 & (MRT__CP_LETTER | MRT__CP_NUMBER);

			pos += cp == ' ';
			while (cls_at(c, pos) & want)
				pos++;
		} else if (!(f2 & LNS) && (f2 & CP_ANY)) {
			pos += cp == ' ';
			while (!(cls_at(c, pos) & LNS) && (cls_at(c, pos) & CP_ANY))
				pos++;
		} else {
			pos = spaces_end(c, pos);
		}
		rc = add_word(c, pos);
	}
	return rc;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t llama3_rest(const cps *c, size_t pos)
{
	uint32_t cp = c->cp[pos];
	unsigned f = c->cls[pos], f2 = cp == ' ' ? cls_at(c, pos + 1) : f;
	size_t k, last_nl = 0;

	if (!(f2 & LNS) && (f & CP_ANY)) {
		pos += cp == ' ';
		while (!(cls_at(c, pos) & LNS) && (cls_at(c, pos) & CP_ANY))
			pos++;
		while (cp_at(c, pos) == '\r' || cp_at(c, pos) == '\n')
			pos++;
		return pos;
	}
	for (k = 0; cls_at(c, pos + k) & MRT__CP_SPACE; k++)
		if (c->cp[pos + k] == '\r' || c->cp[pos + k] == '\n')
			last_nl = pos + k + 1;
	if (last_nl > 0)
		return last_nl;
	return spaces_end(c, pos);
}

static int split_llama3(cps *c)
{
	size_t pos = 0;
	int rc = 0;

	while (rc == 0 && pos < c->n) {
		uint32_t cp = c->cp[pos];
		unsigned f = c->cls[pos];
		size_t k = contraction(c, pos, 1);

		if (k > 0) {
			pos += k;
		} else if (!(cp == '\r' || cp == '\n' || (f & MRT__CP_NUMBER)) &&
		           ((f & MRT__CP_LETTER) || (cls_at(c, pos + 1) & MRT__CP_LETTER))) {
			pos++;
			while (cls_at(c, pos) & MRT__CP_LETTER)
				pos++;
		} else if (f & MRT__CP_NUMBER) {
			size_t ini = pos;

			while ((cls_at(c, pos) & MRT__CP_NUMBER) && pos - ini < 3)
				pos++;
		} else {
			pos = llama3_rest(c, pos);
		}
		rc = add_word(c, pos);
	}
	return rc;
}

/* Mistral's tekken regex, as llama.cpp runs it (std::regex over its
 * collapsed text, where a letter outside ASCII is neither a-z nor A-Z):
 *   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+
 *  |[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*
 *  |\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * "Upper" is a letter other than a-z, "lower" a letter other than A-Z (a
 * letter outside ASCII is both). */
static int tk_upper(const cps *c, size_t i)
{
	uint32_t cp = cp_at(c, i);
	return (cls_at(c, i) & MRT__CP_LETTER) && !(cp >= 'a' && cp <= 'z');
}

static int tk_lower(const cps *c, size_t i)
{
	uint32_t cp = cp_at(c, i);
	return (cls_at(c, i) & MRT__CP_LETTER) && !(cp >= 'A' && cp <= 'Z');
}

/* The two word alternatives at pos: an optional prefix that is not a
 * newline, letter or number, then uppers and lowers. The first wants at
 * least one lower after the uppers, giving back uppers that are also lower
 * as the regex backtracks; the second takes uppers alone. End, or pos when
 * neither matches. */
static size_t tekken_word(const cps *c, size_t pos)
{
	uint32_t cp = cp_at(c, pos);
	unsigned f = cls_at(c, pos);
	size_t i = pos, j;

	if ((f & CP_ANY) && !(f & (MRT__CP_LETTER | MRT__CP_NUMBER)) && cp != '\r' && cp != '\n')
		i++;
	for (j = i; tk_upper(c, j); j++)
		;
	for (size_t k = j + 1; k-- > i;)
		if (tk_lower(c, k)) {
			while (tk_lower(c, k))
				k++;
			return k;
		}
	return j > i ? j : pos;
}

static int split_tekken(cps *c)
{
	size_t pos = 0, e;
	int rc = 0;

	while (rc == 0 && pos < c->n) {
		unsigned f = c->cls[pos];

		if ((e = tekken_word(c, pos)) > pos) {
			pos = e;
		} else if (f & MRT__CP_NUMBER) {
			pos++;
		} else if (!((c->cp[pos] == ' ' ? cls_at(c, pos + 1) : f) & LNS) &&
		           ((c->cp[pos] == ' ' ? cls_at(c, pos + 1) : f) & CP_ANY)) {
			/*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
			pos += c->cp[pos] == ' ';
			while (!(cls_at(c, pos) & LNS) && (cls_at(c, pos) & CP_ANY))
				pos++;
			while (cp_at(c, pos) == '\r' || cp_at(c, pos) == '\n' || cp_at(c, pos) == '/')
				pos++;
		} else {
			size_t k, last_nl = 0;

			for (k = pos; cls_at(c, k) & MRT__CP_SPACE; k++)
				if (c->cp[k] == '\r' || c->cp[k] == '\n')
					last_nl = k + 1;
			pos = last_nl > 0 ? last_nl : spaces_end(c, pos);
		}
		rc = add_word(c, pos);
	}
	return rc;
}

/* \p{N} as words of one code point each, and GPT-2's regex on each run of
 * text between them, as if the run were the whole text (its lookaheads stop
 * at the run's end, as llama.cpp applies its second regex per fragment). */
static int split_smollm(cps *c)
{
	size_t n = c->n, pos = 0, end;
	int rc = 0;

	while (rc == 0 && pos < n) {
		if (c->cls[pos] & MRT__CP_NUMBER) {
			rc = add_word(c, ++pos);
			continue;
		}
		for (end = pos; end < n && !(c->cls[end] & MRT__CP_NUMBER); end++)
			;
		c->n = end;
		rc = split_gpt2(c, pos);
		c->n = n;
		pos = end;
	}
	return rc;
}

int mrt__pretokenize(int pre, const char *text, size_t len, mrt__word_fn fn, void *ctx)
{
	const unsigned char *s = (const unsigned char *)text;
	cps c = {0};
	int rc = MRT_ERR_NOMEM;

	c.fn = fn;
	c.ctx = ctx;
	c.cp = malloc((len + 1) * sizeof(*c.cp));
	c.off = malloc((len + 1) * sizeof(*c.off));
	c.cls = malloc(len + 1);
	if (c.cp == NULL || c.off == NULL || c.cls == NULL)
		goto out;
	for (size_t i = 0; i < len;) {
		size_t k;

		c.off[c.n] = (uint32_t)i;
		c.cp[c.n] = mrt__utf8_decode(s + i, len - i, &k);
		c.cls[c.n] = (uint8_t)(mrt__cp_class(c.cp[c.n]) | CP_ANY);
		c.n++;
		i += k;
	}
	c.off[c.n] = (uint32_t)len;
	rc = pre == MRT__PRE_LLAMA3   ? split_llama3(&c)
	     : pre == MRT__PRE_SMOLLM ? split_smollm(&c)
	     : pre == MRT__PRE_TEKKEN ? split_tekken(&c)
	                              : split_gpt2(&c, 0);
out:
	free(c.cls);
	free(c.off);
	free(c.cp);
	return rc;
}
