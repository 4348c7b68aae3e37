/* Tokenizer tests: conformance with llama.cpp on the real LLaMA and GPT-2
 * vocabularies (../shared/vocab, skipped when absent), with SentencePiece
 * and gpt-3-encoder on committed tricky strings, and the edge cases of the
 * API (special tokens, buffers, UTF-8 streaming, bad files).
 * TOKENIZER_BENCH=1 also prints encoding speed on 1 MB of text. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "json_cases.h"
#include "mrt_gguf.h"
#include "mrt_llm.h"
#include "test.h"
#include "tokenizer.h"
#include "tokenizer_impl.h"

/* Whole file into a new NUL-terminated buffer; NULL when unreadable. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = 0;
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static mrt__tokenizer *load_vocab(const char *path)
{
	char err[256];
	mrt_gguf *g = mrt_gguf_open(path, err, sizeof(err));
	mrt__tokenizer *t;

	if (g == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		return NULL;
	}
	t = mrt__tokenizer_load(g, err, sizeof(err));
	if (t == NULL)
		fprintf(stderr, "%s: %s\n", path, err);
	mrt_gguf_close(g);
	return t;
}

/* Concatenated pieces of ids (new buffer). */
static char *detokenize(const mrt__tokenizer *t, const int32_t *ids, int n, size_t *len)
{
	size_t cap = 16, used = 0;
	char *s = malloc(cap);

	for (int i = 0; s && i < n; i++) {
		int k = mrt__token_to_piece(t, ids[i], 0, NULL, 0);

		if (k < 0 || used + (size_t)k + 1 > cap) {
			cap = 2 * (used + (size_t)(k < 0 ? 0 : k)) + 16;
			s = realloc(s, cap);
		}
		if (k > 0 && s)
			CHECK_EQ_INT(mrt__token_to_piece(t, ids[i], 0, s + used, cap - used), k);
		used += k > 0 ? (size_t)k : 0;
	}
	*len = used;
	return s;
}

/* Check every string of inp_path against the ids of out_path (encode with
 * no BOS, no special parsing) and the decode round trip. Returns the number
 * of strings checked, -1 when the files are missing. */
static int check_strings(const mrt__tokenizer *t, const char *inp_path, const char *out_path,
                         int strip_space)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	size_t inp_len, out_len;
	char *inp, *outs, *s, *line;
	int n_str = 0;

	inp = read_all(inp_path, &inp_len);
	outs = read_all(out_path, &out_len);
	if (inp == NULL || outs == NULL) {
		free(inp);
		free(outs);
		return -1;
	}
	s = inp;
	line = outs;
	for (char *end; (end = strstr(s, sep)) != NULL || *s; s = end + strlen(sep)) {
		int32_t want[1024], got[1024];
		int n_want = 0, n_got, fails = test__failures;
		char *nl = strchr(line, '\n'), *p = line, *dec;
		size_t dec_len, len;

		if (end == NULL)
			end = s + strlen(s);
		len = (size_t)(end - s);
		if (nl == NULL)
			break;
		*nl = 0;
		for (long v; n_want < 1024 && sscanf(p, "%ld", &v) == 1; n_want++) {
			want[n_want] = (int32_t)v;
			while (*p == ' ')
				p++;
			while (*p && *p != ' ')
				p++;
		}
		line = nl + 1;
		n_got = mrt__tokenize(t, s, len, 0, 0, got, 1024);
		CHECK_EQ_INT(n_got, n_want);
		for (int i = 0; i < n_got && i < n_want; i++)
			CHECK_EQ_INT(got[i], want[i]);
		dec = detokenize(t, got, n_got < 0 ? 0 : n_got, &dec_len);
		if (strip_space && dec_len > 0 && dec[0] == ' ') {
			memmove(dec, dec + 1, dec_len - 1);
			dec_len--;
		}
		CHECK(dec != NULL && dec_len == len && memcmp(dec, s, len) == 0);
		if (test__failures != fails)
			fprintf(stderr, "  in %s string %d: \"%.*s\"\n", out_path, n_str, (int)len,
			        s);
		free(dec);
		n_str++;
		if (*end == 0)
			break;
	}
	free(inp);
	free(outs);
	return n_str;
}

/* check_strings on base.inp and base.out. */
static int check_fixture(const mrt__tokenizer *t, const char *base, int strip_space)
{
	char inp[1024], out[1024];

	snprintf(inp, sizeof(inp), "%s.inp", base);
	snprintf(out, sizeof(out), "%s.out", base);
	return check_strings(t, inp, out, strip_space);
}

/* mrt__detokenize against llama.cpp's llama_detokenize (fixtures/tokenizer/
 * NAME.detok, made by detok.mjs): "IDS\tPLAIN\tSPECIAL", the texts in hex
 * ("-": empty). Returns the number of sequences checked. */
static int check_detok(const mrt__tokenizer *t, const char *name)
{
	const char *top = getenv("top_srcdir");
	char path[1024], line[16384], out[8192], want[8192];
	int32_t ids[512];
	int n_seq = 0;
	snprintf(path, sizeof(path), "%s/tests/fixtures/tokenizer/%s.detok", top ? top : ".", name);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		CHECK(tab2 != NULL);
		if (!tab2)
			break;
		int n = 0;
		for (char *p = line; p < tab1 && *p != '-';) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p || n == 512)
				break;
			ids[n++] = (int32_t)v;
			p = end;
		}
		for (int special = 0; special < 2; special++) {
			const char *h = special ? tab2 + 1 : tab1 + 1;
			size_t hl = strcspn(h, special ? "\n" : "\t"), wl = 0;
			CHECK(hl / 2 <= sizeof(want));
			if (h[0] != '-' && hl / 2 <= sizeof(want))
				wl = json_case_unhex(h, hl, (unsigned char *)want);
			int got = mrt__detokenize(t, ids, n, special, out, sizeof(out));
			int ok = got == (int)wl && memcmp(out, want, wl) == 0;
			CHECK(ok);
			if (!ok)
				fprintf(stderr, "%s line %d (special %d): got %d bytes '%.*s', want "
				        "'%.*s'\n", name, n_seq + 1, special, got, got > 0 ? got : 0, out,
				        (int)wl, want);
		}
		n_seq++;
	}
	fclose(f);
	return n_seq;
}

/* Random sequences of any tokens (control, byte and user-defined ones too):
 * a short buffer gets a prefix of the full text, nothing past its end, and
 * the full length back. */
static void test_detok_random(const mrt__tokenizer *t)
{
	uint64_t rng = 0x1234567887654321ull;
	int n_vocab = mrt__tokenizer_n_vocab(t), bad = 0;
	for (int k = 0; k < 500; k++) {
		int32_t ids[24];
		char full[2048], part[2048];
		int n = (int)(test_xorshift64(&rng) % 24);
		for (int i = 0; i < n; i++)
			ids[i] = (int32_t)(test_xorshift64(&rng) % (uint64_t)n_vocab);
		int special = (int)(test_xorshift64(&rng) & 1);
		int len = mrt__detokenize(t, ids, n, special, full, sizeof(full));
		CHECK(len >= 0 && len < (int)sizeof(full));
		if (len <= 0)
			continue;
		size_t cut = test_xorshift64(&rng) % (size_t)len;
		memset(part, 0x55, sizeof(part));
		int again = mrt__detokenize(t, ids, n, special, part, cut);
		int ok = again == len && memcmp(part, full, cut) == 0 && part[cut] == 0x55;
		CHECK(ok);
		bad += !ok;
	}
	CHECK_EQ_INT(bad, 0);
}

/* mrt__detokenize's contract: the full length past a short buffer, errors. */
static void test_detok_api(const mrt__tokenizer *t)
{
	int32_t ids[4] = {1, 15043, 3186, 2}; /* <s> Hello world </s> */
	char out[32];
	CHECK_EQ_INT(mrt__detokenize(t, ids + 1, 2, 0, out, sizeof(out)), 11);
	CHECK(memcmp(out, "Hello world", 11) == 0);
	CHECK_EQ_INT(mrt__detokenize(t, ids, 4, 1, out, sizeof(out)), 19);
	CHECK(memcmp(out, "<s> Hello world</s>", 19) == 0);
	out[3] = 'X';
	CHECK_EQ_INT(mrt__detokenize(t, ids + 1, 2, 0, out, 3), 11);
	CHECK(memcmp(out, "HelX", 4) == 0);
	CHECK_EQ_INT(mrt__detokenize(t, ids, 0, 0, NULL, 0), 0);
	ids[2] = 32000;
	CHECK(mrt__detokenize(t, ids, 3, 0, out, sizeof(out)) < 0);
	CHECK(mrt__detokenize(t, NULL, 3, 0, out, sizeof(out)) < 0);
	CHECK(mrt__detokenize(t, ids, -1, 0, out, sizeof(out)) < 0);
}

/* The vocabulary at path with its tokenizer.ggml.pre string replaced by pre
 * (written to a temporary copy), or NULL. */
static mrt__tokenizer *load_vocab_pre(const char *path, const char *pre, char *err,
                                      size_t errlen)
{
	static const char key[] = "tokenizer.ggml.pre";
	size_t len, klen = strlen(key), plen = strlen(pre);
	char *data = read_all(path, &len), *at = NULL, tmp[] = "/tmp/test_tokenizer.XXXXXX";
	mrt__tokenizer *t = NULL;
	uint64_t old;
	uint32_t type;
	FILE *f;
	int fd;

	for (size_t i = 8; data && i + klen + 12 <= len && !at; i++)
		if (memcmp(data + i, key, klen) == 0)
			at = data + i + klen;
	if (at == NULL || (memcpy(&type, at, 4), type != 8) ||
	    (memcpy(&old, at + 4, 8), old > len - (size_t)(at + 12 - data))) {
		free(data);
		return NULL;
	}
	if ((fd = mkstemp(tmp)) >= 0 && (f = fdopen(fd, "wb")) != NULL) {
		uint64_t n = plen;
		size_t head = (size_t)(at + 4 - data), tail = head + 8 + (size_t)old;
		int ok = fwrite(data, 1, head, f) == head && fwrite(&n, 8, 1, f) == 1 &&
		         fwrite(pre, 1, plen, f) == plen &&
		         fwrite(data + tail, 1, len - tail, f) == len - tail;
		mrt_gguf *g;
		if (fclose(f) == 0 && ok && (g = mrt_gguf_open(tmp, err, errlen)) != NULL) {
			t = mrt__tokenizer_load(g, err, errlen);
			mrt_gguf_close(g);
		}
		unlink(tmp);
	}
	free(data);
	return t;
}

/* The byte-level BPE pre-tokenizers on GPT-2's vocabulary against llama.cpp
 * (tests/fixtures/tokenizer/pre.mjs): for each, the committed strings of
 * pre.inp and gpt2-encoder.inp against the ids llama.cpp gave under that
 * tokenizer.ggml.pre; and a name llama.cpp does not know is refused. */
static void test_pre_tokenizers(const char *gpt2)
{
	static const char *const pres[] = {"llama-bpe", "smollm", "tekken", "deepseek-llm",
	                                   "deepseek-coder"};
	static const char *const sets[] = {"pre", "gpt2-encoder"};
	const char *top = getenv("top_srcdir");
	char inp[1024], out[1024], err[256];

	for (size_t p = 0; p < sizeof(pres) / sizeof(pres[0]); p++) {
		mrt__tokenizer *t = load_vocab_pre(gpt2, pres[p], err, sizeof(err));
		int n = 0;

		CHECK(t != NULL);
		for (size_t k = 0; t && k < sizeof(sets) / sizeof(sets[0]); k++) {
			snprintf(inp, sizeof(inp), "%s/tests/fixtures/tokenizer/%s.inp",
			         top ? top : ".", sets[k]);
			snprintf(out, sizeof(out), "%s/tests/fixtures/tokenizer/%s.%s.out",
			         top ? top : ".", sets[k], pres[p]);
			int m = check_strings(t, inp, out, 0);
			CHECK(m > 20);
			n += m;
		}
		fprintf(stderr, "gpt-2 vocabulary, pre-tokenizer %s: %d strings checked against "
		                "llama.cpp\n", pres[p], n);
		/* llama.cpp cleans up spaces when detokenizing under llama-bpe, not
		 * under smollm */
		if (t && (!strcmp(pres[p], "llama-bpe") || !strcmp(pres[p], "smollm"))) {
			char name[64];
			snprintf(name, sizeof(name), "gpt-2.%s", pres[p]);
			CHECK(check_detok(t, name) > 300);
		}
		mrt__tokenizer_free(t);
	}
	/* starcoder shares smollm's rules: every digit alone, and the space before
	 * a number its own word ("a", " ", "1", "2"; GPT-2's gives "a", " 12") */
	mrt__tokenizer *t = load_vocab_pre(gpt2, "starcoder", err, sizeof(err));
	int32_t ids[16];
	CHECK(t != NULL);
	if (t) {
		CHECK_EQ_INT(mrt__tokenize(t, "a 12", 4, 0, 0, ids, 16), 4);
		CHECK_EQ_INT(ids[0], 64);
		CHECK_EQ_INT(ids[1], 220);
		CHECK_EQ_INT(ids[2], 16);
		CHECK_EQ_INT(ids[3], 17);
		mrt__tokenizer_free(t);
	}
	/* a name llama.cpp does not know is refused, with the name in the message */
	err[0] = 0;
	CHECK(load_vocab_pre(gpt2, "not-a-pre", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "tokenizer.ggml.pre \"not-a-pre\" is not supported") != NULL);
}

typedef struct words {
	size_t len[512];
	int n;
} words;

static int add_len(void *ctx, size_t off, size_t len)
{
	words *w = ctx;
	(void)off;
	if (w->n >= 512)
		return -1;
	w->len[w->n++] = len;
	return 0;
}

/* The word splits of each pre-tokenizer against those of its regex run by
 * the regex module (tests/fixtures/tokenizer/make_splits.py), on the
 * strings of pre.inp and gpt2-encoder.inp: word by word, since token ids
 * hide many split mistakes (BPE often gives the same ids either way). */
static void test_splits(void)
{
	static const struct {
		const char *name;
		int pre;
	} pres[] = {{"gpt-2", MRT__PRE_GPT2},
	            {"llama-bpe", MRT__PRE_LLAMA3},
	            {"smollm", MRT__PRE_SMOLLM},
	            {"tekken", MRT__PRE_TEKKEN},
	            {"deepseek-llm", MRT__PRE_DEEPSEEK_LLM},
	            {"deepseek-coder", MRT__PRE_DEEPSEEK_CODER}};
	static const char sep[] = "\n__ggml_vocab_test__\n";
	const char *top = getenv("top_srcdir");
	char path[1024];
	size_t l1, l2;

	snprintf(path, sizeof(path), "%s/tests/fixtures/tokenizer/pre.inp", top ? top : ".");
	char *a = read_all(path, &l1);
	snprintf(path, sizeof(path), "%s/tests/fixtures/tokenizer/gpt2-encoder.inp",
	         top ? top : ".");
	char *b = read_all(path, &l2), *all = a && b ? malloc(l1 + l2 + sizeof(sep)) : NULL;
	CHECK(all != NULL);
	if (!all) {
		free(a);
		free(b);
		return;
	}
	snprintf(all, l1 + l2 + sizeof(sep), "%s%s%s", a, sep, b);
	for (size_t p = 0; p < sizeof(pres) / sizeof(pres[0]); p++) {
		snprintf(path, sizeof(path), "%s/tests/fixtures/tokenizer/splits.%s.out",
		         top ? top : ".", pres[p].name);
		size_t ol;
		char *outs = read_all(path, &ol), *line = outs, *s = all, *end;
		int n_str = 0, n_words = 0;
		CHECK(outs != NULL);
		for (; outs && line && *line; s = end + strlen(sep), n_str++) {
			char *nl = strchr(line, '\n');
			words w = {.n = 0}, want = {.n = 0};
			int fails = test__failures;
			if ((end = strstr(s, sep)) == NULL)
				end = s + strlen(s);
			if (nl)
				*nl = 0;
			for (char *q = line, *e; want.n < 512 && *q; q = e) {
				want.len[want.n++] = strtoul(q, &e, 10);
				if (e == q)
					break;
			}
			CHECK_EQ_INT(mrt__pretokenize(pres[p].pre, s, (size_t)(end - s), add_len, &w), 0);
			CHECK_EQ_INT(w.n, want.n);
			for (int i = 0; i < w.n && i < want.n; i++)
				CHECK_EQ_INT((int)w.len[i], (int)want.len[i]);
			if (test__failures != fails)
				fprintf(stderr, "  %s splits, string %d: \"%.*s\"\n", pres[p].name,
				        n_str, (int)(end - s), s);
			n_words += w.n;
			line = nl ? nl + 1 : NULL;
			if (*end == 0)
				break;
		}
		CHECK(n_str > 50);
		fprintf(stderr, "pre-tokenizer %s: %d strings (%d words) split as its regex\n",
		        pres[p].name, n_str + 1, n_words);
		free(outs);
	}
	free(all);
	free(a);
	free(b);
}

static const char *shared_vocab(char *buf, size_t n, const char *file)
{
	const char *top = getenv("top_srcdir");

	snprintf(buf, n, "%s/../shared/vocab/%s", top ? top : ".", file);
	return buf;
}

static int encode(const mrt__tokenizer *t, const char *s, int bos, int special, int32_t *ids)
{
	return mrt__tokenize(t, s, strlen(s), bos, special, ids, 64);
}

/* A user-defined token splits the text like a special token, even without
 * parse_special, and the space prefix is added again after it (llama.cpp). */
static void test_user_defined(const mrt__tokenizer *t)
{
	int32_t ids[64], a[64], b[64];
	int na = encode(t, "a", 0, 0, a), nb = encode(t, "b c", 0, 0, b), n;

	CHECK_EQ_INT(encode(t, "<|user|>", 0, 0, ids), 1);
	CHECK_EQ_INT(ids[0], 3);
	n = encode(t, "a<|user|>b c", 0, 0, ids);
	CHECK_EQ_INT(n, na + 1 + nb);
	CHECK(n == na + 1 + nb && memcmp(ids, a, sizeof(*a) * (size_t)na) == 0 && ids[na] == 3 &&
	      memcmp(ids + na + 1, b, sizeof(*b) * (size_t)nb) == 0);
}

/* Special tokens, BOS, short buffers and pieces on the LLaMA vocabulary. */
static void test_llama_api(const mrt__tokenizer *t)
{
	int32_t ids[64];
	char piece[16];
	int n;

	CHECK_EQ_INT(mrt__tokenizer_bos(t), 1);
	CHECK_EQ_INT(mrt__tokenizer_eos(t), 2);
	CHECK_EQ_INT(mrt__tokenizer_add_bos(t), 1);
	CHECK(strcmp(mrt__tokenizer_model_name(t), "llama") == 0);
	CHECK_EQ_INT(mrt__tokenizer_n_vocab(t), 32000);
	/* "<s>" is the BOS token only when special text is parsed. */
	n = encode(t, "<s>Hi</s>", 1, 1, ids);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(ids[0], 1);
	CHECK_EQ_INT(ids[1], 1);
	CHECK_EQ_INT(ids[3], 2);
	/* After a special token the space prefix is added again ("▁Hi"). */
	CHECK_EQ_INT(ids[2], encode(t, "Hi", 0, 0, ids + 10) == 1 ? ids[10] : -1);
	n = encode(t, "<s>", 0, 0, ids);
	CHECK(n > 1);
	for (int i = 0; i < n; i++)
		CHECK(ids[i] != 1);
	/* Too small a buffer: the full count comes back, only max are written. */
	ids[1] = -5;
	CHECK_EQ_INT(mrt__tokenize(t, "Hello world", 11, 1, 0, ids, 1), 3);
	CHECK_EQ_INT(ids[0], 1);
	CHECK_EQ_INT(ids[1], -5);
	CHECK_EQ_INT(mrt__tokenize(t, "", 0, 0, 0, ids, 0), 0);
	CHECK_EQ_INT(mrt__tokenize(t, "", 0, 1, 0, ids, 4), 1);
	CHECK(mrt__tokenize(t, NULL, 3, 0, 0, ids, 4) < 0);
	/* Pieces: U+2581 is a space; a byte token gives its byte; control
	 * tokens are empty unless rendered; a short buffer gets a prefix. */
	CHECK_EQ_INT(mrt__token_to_piece(t, 15043, 0, piece, sizeof(piece)), 6); /* "▁Hello" */
	CHECK(memcmp(piece, " Hello", 6) == 0);
	CHECK_EQ_INT(mrt__token_to_piece(t, 3 + 0xE4, 0, piece, sizeof(piece)), 1); /* <0xE4> */
	CHECK_EQ_INT((unsigned char)piece[0], 0xE4);
	CHECK_EQ_INT(mrt__token_to_piece(t, 2, 0, piece, sizeof(piece)), 0);
	CHECK_EQ_INT(mrt__token_to_piece(t, 2, 1, piece, sizeof(piece)), 4);
	CHECK(memcmp(piece, "</s>", 4) == 0);
	piece[2] = 'X';
	CHECK_EQ_INT(mrt__token_to_piece(t, 15043, 0, piece, 2), 6);
	CHECK_EQ_INT(piece[2], 'X');
	CHECK(mrt__token_to_piece(t, 32000, 0, piece, sizeof(piece)) < 0);
	CHECK(mrt__token_to_piece(t, -1, 0, piece, sizeof(piece)) < 0);
	CHECK(mrt__token_is_eog(t, 2));
	CHECK(!mrt__token_is_eog(t, 1));
}

static void test_gpt2_api(const mrt__tokenizer *t)
{
	int32_t ids[64];
	char piece[16];
	int n;

	CHECK(strcmp(mrt__tokenizer_model_name(t), "gpt2") == 0);
	CHECK_EQ_INT(mrt__tokenizer_n_vocab(t), 50257);
	n = encode(t, "a<|endoftext|>b", 0, 1, ids);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(ids[1], 50256);
	n = encode(t, "a<|endoftext|>b", 0, 0, ids);
	CHECK(n > 3);
	CHECK(mrt__token_is_eog(t, 50256));
	CHECK_EQ_INT(mrt__token_to_piece(t, 50256, 0, piece, sizeof(piece)), 0);
	CHECK_EQ_INT(mrt__token_to_piece(t, 50256, 1, piece, sizeof(piece)), 13);
	CHECK_EQ_INT(encode(t, " Hello", 0, 0, ids), 1); /* "ĠHello" */
	CHECK_EQ_INT(mrt__token_to_piece(t, ids[0], 0, piece, sizeof(piece)), 6);
	CHECK(memcmp(piece, " Hello", 6) == 0);
	/* Invalid UTF-8 still round-trips through the byte tokens. */
	{
		const char bad[] = "ok\xff\xfe\xc3";
		size_t len;
		char *dec;

		n = mrt__tokenize(t, bad, 5, 0, 0, ids, 64);
		CHECK(n > 0);
		dec = detokenize(t, ids, n, &len);
		CHECK(dec && len == 5 && memcmp(dec, bad, 5) == 0);
		free(dec);
	}
}

static void test_utf8_prefix(void)
{
	CHECK_EQ_INT(mrt_utf8_complete_prefix("abc", 3), 3);
	CHECK_EQ_INT(mrt_utf8_complete_prefix("", 0), 0);
	CHECK_EQ_INT(mrt_utf8_complete_prefix("a\xc3", 2), 1);        /* é cut after 1 of 2 */
	CHECK_EQ_INT(mrt_utf8_complete_prefix("a\xc3\xa9", 3), 3);    /* é complete */
	CHECK_EQ_INT(mrt_utf8_complete_prefix("a\xe4\xbd", 3), 1);    /* 你 cut after 2 of 3 */
	CHECK_EQ_INT(mrt_utf8_complete_prefix("\xf0\x9f\xa6", 3), 0); /* 🦙 cut after 3 of 4 */
	CHECK_EQ_INT(mrt_utf8_complete_prefix("\xf0\x9f\xa6\x99", 4), 4);
	CHECK_EQ_INT(mrt_utf8_complete_prefix("a\x80", 2), 2); /* stray byte: nothing to wait for */
}

/* Write a file with the given tokenizer keys; NULL tokens: none. Returns
 * the load error (empty when it loaded). */
static const char *load_error(const char *model, const char *const *toks, int n, int bos, char *err,
                              size_t errlen)
{
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	char path[] = "test_tokenizer_XXXXXX";
	int fd = mkstemp(path);
	mrt_gguf *g;
	mrt__tokenizer *t = NULL;

	err[0] = 0;
	CHECK(fd >= 0 && w != NULL);
	mrt_gguf_writer_set_str(w, "tokenizer.ggml.model", model);
	if (toks)
		mrt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
	mrt_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
	CHECK_EQ_INT(mrt_gguf_writer_write(w, path, err, errlen), 0);
	g = mrt_gguf_open(path, err, errlen);
	CHECK(g != NULL);
	if (g)
		t = mrt__tokenizer_load(g, err, errlen);
	mrt__tokenizer_free(t);
	mrt_gguf_close(g);
	mrt_gguf_writer_free(w);
	remove(path);
	if (fd >= 0)
		close(fd);
	return err;
}

/* Files without a vocabulary, with a bad BOS id or an unknown model are
 * refused with a message naming the key. */
static void test_bad_files(void)
{
	const char *toks[] = {"<unk>", "a", "b"};
	char err[256];

	CHECK_STR_CONTAINS(load_error("llama", NULL, 0, 1, err, sizeof(err)),
	                   "tokenizer.ggml.tokens");
	CHECK_STR_CONTAINS(load_error("llama", toks, 3, 7, err, sizeof(err)), "bos_token_id");
	CHECK_STR_CONTAINS(load_error("wordpiece", toks, 3, 1, err, sizeof(err)), "wordpiece");
	CHECK_STR_CONTAINS(load_error("gpt2", toks, 3, 1, err, sizeof(err)), "merges");
	CHECK_EQ_INT(strlen(load_error("llama", toks, 3, 1, err, sizeof(err))), 0);
}

/* MB/s encoding about 1 MB made of the fixture strings. */
static void bench(const mrt__tokenizer *t, const char *name, const char *inp_path)
{
	size_t len, total = 0;
	char *inp = read_all(inp_path, &len), *big;
	int32_t *ids;
	struct timespec a, b;
	double best = 1e9;
	int n = 0;

	if (inp == NULL)
		return;
	big = malloc((1 << 20) + len);
	while (total < (1 << 20)) {
		memcpy(big + total, inp, len);
		total += len;
	}
	ids = malloc(sizeof(*ids) * total);
	for (int rep = 0; rep < 3; rep++) {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		n = mrt__tokenize(t, big, total, 0, 0, ids, (int)total);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
		best = s < best ? s : best;
	}
	fprintf(stderr, "bench %s: %zu bytes -> %d tokens, best of 3 %.3f s, %.2f MB/s\n", name,
	        total, n, best, (double)total / 1e6 / best);
	free(ids);
	free(big);
	free(inp);
}

int main(void)
{
	char path[1024], base[1024];
	const char *top = getenv("top_srcdir");
	mrt__tokenizer *t;
	int n;

	test_utf8_prefix();
	test_bad_files();
	test_splits();

	/* SentencePiece itself on a small model trained for the fixtures. */
	snprintf(path, sizeof(path), "%s/tests/fixtures/tokenizer/spm-small.gguf", top ? top : ".");
	t = load_vocab(path);
	CHECK(t != NULL);
	if (t) {
		snprintf(base, sizeof(base), "%s/tests/fixtures/tokenizer/spm-small",
		         top ? top : ".");
		n = check_fixture(t, base, 1);
		CHECK(n > 20);
		fprintf(stderr, "spm-small: %d strings checked against SentencePiece\n", n);
		test_user_defined(t);
		test_detok_random(t);
		n = check_detok(t, "spm-small");
		CHECK(n > 100);
		fprintf(stderr, "spm-small: %d sequences detokenized as llama.cpp does\n", n);
		mrt__tokenizer_free(t);
	}

	t = load_vocab(shared_vocab(path, sizeof(path), "ggml-vocab-llama-spm.gguf"));
	if (t == NULL) {
		fprintf(stderr, "SKIP: no ../shared/vocab: LLaMA conformance not checked\n");
	} else {
		n = check_fixture(t, path, 1);
		CHECK_EQ_INT(n, 46);
		fprintf(stderr, "llama-spm: %d strings checked against llama.cpp\n", n);
		test_llama_api(t);
		test_detok_api(t);
		n = check_detok(t, "llama-spm");
		CHECK(n > 300);
		fprintf(stderr, "llama-spm: %d sequences detokenized as llama.cpp does\n", n);
		if (getenv("TOKENIZER_BENCH"))
			bench(t, "llama-spm", strcat(path, ".inp"));
		mrt__tokenizer_free(t);
	}
	t = load_vocab(shared_vocab(path, sizeof(path), "ggml-vocab-gpt-2.gguf"));
	if (t == NULL) {
		fprintf(stderr, "SKIP: no ../shared/vocab: GPT-2 conformance not checked\n");
	} else {
		n = check_fixture(t, path, 0);
		CHECK_EQ_INT(n, 46);
		fprintf(stderr, "gpt-2: %d strings checked against llama.cpp\n", n);
		snprintf(base, sizeof(base), "%s/tests/fixtures/tokenizer/gpt2-encoder",
		         top ? top : ".");
		n = check_fixture(t, base, 0);
		CHECK(n > 20);
		fprintf(stderr, "gpt-2: %d strings checked against gpt-3-encoder\n", n);
		test_gpt2_api(t);
		n = check_detok(t, "gpt-2");
		CHECK(n > 300);
		fprintf(stderr, "gpt-2: %d sequences detokenized as llama.cpp does\n", n);
		mrt__tokenizer_free(t);
		test_pre_tokenizers(path);
		if (getenv("TOKENIZER_BENCH") && (t = load_vocab(path)) != NULL) {
			bench(t, "gpt-2", strcat(path, ".inp"));
			mrt__tokenizer_free(t);
		}
	}
	TEST_END();
}
