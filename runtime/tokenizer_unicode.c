/* Unicode for the byte-level BPE pre-tokenizers: code point classes (\p{L},
 * \p{N}, \p{P}, \s), UTF-8 decoding, GPT-2's byte <-> code point mapping,
 * and the pre-tokenizer regexes of GPT-2, Llama 3, SmolLM, tekken and
 * DeepSeek written out by hand (the same splits as llama.cpp's
 * unicode_regex_split_custom_* and its per-fragment regex passes;
 * test_tokenizer checks them word by word against the regexes themselves). */
#include <stdlib.h>

#include "tokenizer_impl.h"
#include "tokenizer_punct_data.h"
#include "tokenizer_unicode_data.h"

#define CP_ANY 8u /* any code point inside the text (not past its end) */
#define OUT_OF_RANGE 0xFFFFFFFFu

static int is_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Whether cp is in one of the n sorted, disjoint ranges {first, last}. */
static int in_ranges(const uint32_t (*range)[2], size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp < range[mid][0])
			hi = mid;
		else if (cp > range[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

static unsigned punct_class(uint32_t cp)
{
	return in_ranges(punct_ranges, sizeof(punct_ranges) / sizeof(punct_ranges[0]), cp)
	           ? MRT__CP_PUNCT
	           : 0;
}

unsigned mrt__cp_class(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(cp_ranges) / sizeof(cp_ranges[0]);

	if (cp < 0x80) { /* the common case, without the search */
		if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
			return MRT__CP_LETTER;
		if (cp >= '0' && cp <= '9')
			return MRT__CP_NUMBER;
		return is_space(cp) ? MRT__CP_SPACE : punct_class(cp);
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
	return punct_class(cp);
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

/* DeepSeek's pre-tokenizers are lists of regexes: each splits every piece
 * the one before left, its matches and the text between them alike, and the
 * last one's pieces are the words. llama.cpp runs them with std::regex, whose
 * \s is ASCII only, on a copy of the text where every other whitespace code
 * point is U+000B: so \s is MRT__CP_SPACE, and no whitespace matches a
 * bracket (U+3000 is never in [U+3000-U+3002]); $ is the end of the piece. */
enum ds_step {
	DS_END,
	DS_NEWLINE,     /* [\r\n] */
	DS_LLM_LETTERS, /* \s?[ds_letters]+ */
	DS_LLM_PUNCT,   /* \s?[ds_punct]+ */
	DS_TRAILING,    /* \s+$ */
	DS_CJK,         /* [ds_cjk]+ */
	DS_NUMBERS,     /* \p{N}+ */
	DS_LETTERS,     /* \s?\p{L}+ */
	DS_PUNCTS,      /* \s?\p{P}+ */
	DS_NUMBER,      /* \p{N} */
};

static const uint8_t deepseek_llm[] = {DS_NEWLINE, DS_LLM_LETTERS, DS_LLM_PUNCT, DS_TRAILING,
                                       DS_CJK,     DS_NUMBERS,     DS_END};
static const uint8_t deepseek_coder[] = {DS_NEWLINE, DS_LETTERS, DS_PUNCTS,
                                         DS_CJK,     DS_NUMBER,  DS_END};

/* DeepSeek LLM's letters as its regex lists them: the cased letters of some
 * scripts (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, ...). */
static const uint32_t ds_letters[][2] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
/* ASCII punctuation, symbols and letters (not digits) and their fullwidth
 * forms, curly quotes, and U+3000-U+3002 (ideographic space, comma, stop). */
static const uint32_t ds_punct[][2] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
                                       {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};
/* U+4E00-U+9FA5, U+0800-U+4E00 and U+AC00-U+D7FF: CJK ideographs, all
 * from U+0800 up to them (Indic scripts, kana, ...), and Hangul syllables. */
static const uint32_t ds_cjk[][2] = {{0x800, 0x9FA5}, {0xAC00, 0xD7FF}};

#define IN_TABLE(t, cp) in_ranges(t, sizeof(t) / sizeof(t[0]), cp)

/* Whether code point i is in the bracket or class of step. */
static int ds_in(const cps *c, int step, size_t i)
{
	unsigned f = c->cls[i];

	if (f & MRT__CP_SPACE)
		return 0;
	switch (step) {
	case DS_LLM_LETTERS:
		return IN_TABLE(ds_letters, c->cp[i]);
	case DS_LLM_PUNCT:
		return IN_TABLE(ds_punct, c->cp[i]);
	case DS_CJK:
		return IN_TABLE(ds_cjk, c->cp[i]);
	case DS_LETTERS:
		return (f & MRT__CP_LETTER) != 0;
	case DS_PUNCTS:
		return (f & MRT__CP_PUNCT) != 0;
	default: /* DS_NUMBERS, DS_NUMBER */
		return (f & MRT__CP_NUMBER) != 0;
	}
}

/* End of the match of step (not DS_TRAILING) at pos, pos < end; pos when it
 * has none there. */
static size_t ds_match(const cps *c, int step, size_t pos, size_t end)
{
	size_t i = pos, k;

	switch (step) {
	case DS_NEWLINE:
		return pos + (c->cp[pos] == '\r' || c->cp[pos] == '\n');
	case DS_NUMBER:
		return pos + ds_in(c, step, pos);
	case DS_LLM_LETTERS:
	case DS_LLM_PUNCT:
	case DS_LETTERS:
	case DS_PUNCTS:
		/* \s? takes a space only before the run: a space is never in it */
		i += (c->cls[pos] & MRT__CP_SPACE) != 0;
		break;
	}
	for (k = i; k < end && ds_in(c, step, k); k++)
		;
	return k > i ? k : pos;
}

/* steps[0] on the piece [start, end), then the steps after it on each piece
 * it leaves; the pieces DS_END gets are words. */
static int split_deepseek(cps *c, const uint8_t *steps, size_t start, size_t end)
{
	size_t pos = start, gap = start, e;
	int rc = 0;

	if (start == end)
		return 0;
	if (*steps == DS_END)
		return add_word(c, end);
	if (*steps == DS_TRAILING) { /* the one place \s+$ matches: the trailing run */
		for (pos = end; pos > start && (c->cls[pos - 1] & MRT__CP_SPACE); pos--)
			;
		rc = split_deepseek(c, steps + 1, start, pos);
		return rc != 0 ? rc : split_deepseek(c, steps + 1, pos, end);
	}
	while (rc == 0 && pos < end) {
		e = ds_match(c, *steps, pos, end);
		if (e == pos) {
			pos++;
			continue;
		}
		rc = split_deepseek(c, steps + 1, gap, pos);
		if (rc == 0)
			rc = split_deepseek(c, steps + 1, pos, e);
		pos = gap = e;
	}
	return rc != 0 ? rc : split_deepseek(c, steps + 1, gap, end);
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
	switch (pre) {
	case MRT__PRE_LLAMA3:
		rc = split_llama3(&c);
		break;
	case MRT__PRE_SMOLLM:
		rc = split_smollm(&c);
		break;
	case MRT__PRE_TEKKEN:
		rc = split_tekken(&c);
		break;
	case MRT__PRE_DEEPSEEK_LLM:
		rc = split_deepseek(&c, deepseek_llm, 0, c.n);
		break;
	case MRT__PRE_DEEPSEEK_CODER:
		rc = split_deepseek(&c, deepseek_coder, 0, c.n);
		break;
	default:
		rc = split_gpt2(&c, 0);
	}
out:
	free(c.cls);
	free(c.off);
	free(c.cp);
	return rc;
}
