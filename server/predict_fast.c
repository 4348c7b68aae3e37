/* Fast predict-body decoding (see predict_fast.h). Numbers are rounded the
 * way the general path rounds them: integers through int64 (so "-0" is +0),
 * reals to the nearest double (exactly: one operation on exact operands when
 * that is correctly rounded, see srv__scale10, else strtod) and then to
 * float. */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "predict_fast.h"

#define FAST_MAX_ELEMS ((int64_t)1 << 31) /* as the general path */

static const char *srv__ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A string without escapes or bytes outside printable ASCII; *p at the
 * opening quote, left after the closing one. 0 or -1. */
static int srv__plain_string(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q = *p + 1;
	while (q < end && *q != '"') {
		if (*q == '\\' || (unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			return -1;
		q++;
	}
	if (q >= end)
		return -1;
	*s = *p + 1;
	*n = (size_t)(q - *s);
	*p = q + 1;
	return 0;
}

/* Bytes a list of numbers may hold besides '[' and ']': digits, signs, '.',
 * exponents, commas and JSON whitespace. A table, not strchr: the scan runs
 * over every byte of every body. */
static const unsigned char srv__list_byte[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['e'] = 1,
	['E'] = 1, [','] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
};

/* Skip a list made only of numbers, lists, commas and whitespace (checked
 * strictly later by srv_fast_inputs). 0 or -1. */
static int srv__skip_list(const char **p, const char *end)
{
	int depth = 0;
	for (const char *q = *p; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (srv__list_byte[c])
			continue;
		if (c == '[') {
			depth++;
		} else if (c == ']') {
			if (--depth == 0) {
				*p = q + 1;
				return 0;
			}
		} else {
			return -1;
		}
	}
	return -1;
}

int srv_fast_scan(const char *body, size_t len, srv_fast_body *fb)
{
	const char *end = body + len, *p = srv__ws(body, end), *key;
	size_t klen;
	int seen_model = 0, seen_list = 0;

	memset(fb, 0, sizeof(*fb));
	fb->end = end;
	if (p >= end || *p++ != '{')
		return -1;
	for (;;) {
		p = srv__ws(p, end);
		if (p >= end || *p != '"' || srv__plain_string(&p, end, &key, &klen) != 0)
			return -1;
		p = srv__ws(p, end);
		if (p >= end || *p++ != ':')
			return -1;
		p = srv__ws(p, end);
		if (p >= end)
			return -1;
		if (klen == 5 && !memcmp(key, "model", 5) && !seen_model && *p == '"') {
			if (srv__plain_string(&p, end, &fb->model, &fb->model_len) != 0)
				return -1;
			seen_model = 1;
		} else if (((klen == 6 && !memcmp(key, "inputs", 6)) ||
			    (klen == 9 && !memcmp(key, "instances", 9))) &&
			   !seen_list && *p == '[') {
			fb->value = p;
			fb->used_instances = klen == 9;
			if (srv__skip_list(&p, end) != 0)
				return -1;
			seen_list = 1;
		} else {
			return -1;
		}
		p = srv__ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p >= end || *p++ != '}')
			return -1;
		break;
	}
	return seen_list && srv__ws(p, end) == end ? 0 : -1;
}

static const double srv__pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x87 extended precision: a 64-bit significand holds any mantissa of up to 19
 * digits and 10^k up to k = 27 (5^27 < 2^64) exactly. */
#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
#define SRV_FAST_EXTENDED 1
static const long double srv__pow10l[28] = {
	1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
	1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
	1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

/* *d = mant * 10^e10 rounded to the nearest double, as strtod rounds it, when
 * one correctly rounded operation on exact operands gives it. 0, or -1 when
 * it does not (use strtod).
 * - Clinger's fast path: mant <= 2^53 and |e10| <= 22 are exact doubles.
 * - Otherwise, with x87 extended precision and |e10| <= 27, the product or
 *   quotient q is rounded once to 64 bits, then to 53. The second rounding
 *   equals the direct one unless q sits exactly on a midpoint between two
 *   doubles (its low 11 bits 0x400): a midpoint has 54 bits, so one strictly
 *   between the exact value and q would be nearer than q. That case, about
 *   1 in 2048, is left to strtod. */
static int srv__scale10(uint64_t mant, int e10, double *d)
{
	if (mant <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
		*d = e10 >= 0 ? (double)mant * srv__pow10[e10] : (double)mant / srv__pow10[-e10];
		return 0;
	}
#ifdef SRV_FAST_EXTENDED
	if (e10 >= -27 && e10 <= 27) {
		long double q = e10 >= 0 ? (long double)mant * srv__pow10l[e10]
					 : (long double)mant / srv__pow10l[-e10];
		uint64_t sig; /* the significand: the first 8 bytes, integer bit on top */
		memcpy(&sig, &q, sizeof(sig));
		if ((sig & 0x7ff) == 0x400)
			return -1;
		*d = (double)q;
		return 0;
	}
#endif
	return -1;
}

int srv_fast_number(const char **p, const char *end, float *out)
{
	const char *s = *p, *q = s;
	uint64_t mant = 0;
	int neg = 0, digits = 0, frac = 0, is_real = 0, exp = 0, eneg = 0, edigits = 0;
	double d;

	if (q < end && *q == '-')
		neg = 1, q++;
	if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] >= '0' &&
						 q[1] <= '9'))
		return -1;
	for (; q < end && *q >= '0' && *q <= '9'; q++)
		if (digits || *q != '0')
			mant = mant * 10 + (uint64_t)(*q - '0'), digits++;
	if (q < end && *q == '.') {
		is_real = 1;
		if (++q >= end || *q < '0' || *q > '9')
			return -1;
		for (; q < end && *q >= '0' && *q <= '9'; q++, frac++)
			if (digits || *q != '0')
				mant = mant * 10 + (uint64_t)(*q - '0'), digits++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		is_real = 1;
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			eneg = *q++ == '-';
		for (; q < end && *q >= '0' && *q <= '9'; q++, edigits++)
			if (edigits < 6)
				exp = exp * 10 + (*q - '0');
		if (edigits == 0 || edigits > 5)
			return -1;
	}
	/* 19 digits fit a uint64 exactly; integers go through int64 as in the
	 * general path, which 18 digits always fit */
	if (digits > 19 || (!is_real && digits > 18))
		return -1;
	*p = q;
	if (!is_real) {
		int64_t iv = neg ? -(int64_t)mant : (int64_t)mant;
		*out = (float)(double)iv;
		return 0;
	}
	if (mant == 0) {
		d = 0.0;
	} else if (srv__scale10(mant, (eneg ? -exp : exp) - frac, &d) != 0) {
		char buf[64];
		if ((size_t)(q - s) >= sizeof(buf)) {
			*p = s;
			return -1;
		}
		memcpy(buf, s, (size_t)(q - s));
		buf[q - s] = '\0';
		d = strtod(buf, NULL);
		neg = 0; /* the sign is in the text */
	}
	if (neg)
		d = -d;
	*out = (float)d;
	return isfinite(d) && isfinite(*out) ? 0 : -1;
}

typedef struct srv__fast_dec {
	const char *p, *end;
	const mrt_io_info *info;
	float *data;
	int64_t next, cap;
} srv__fast_dec;

/* One instance: the nested list at depth d (1 = an instance) holding exactly
 * info->dims[d] entries. 0 or -1 (not handled), -2 (out of memory). */
static int srv__fast_list(srv__fast_dec *x, int d)
{
	int64_t n = x->info->dims[d];
	const char *p = srv__ws(x->p, x->end);

	if (p >= x->end || *p++ != '[')
		return -1;
	for (int64_t i = 0; i < n; i++) {
		p = srv__ws(p, x->end);
		if (i > 0) {
			if (p >= x->end || *p++ != ',')
				return -1;
			p = srv__ws(p, x->end);
		}
		if (d + 1 < x->info->ndim) {
			x->p = p;
			int rc = srv__fast_list(x, d + 1);
			if (rc != 0)
				return rc;
			p = x->p;
			continue;
		}
		if (x->next == x->cap) {
			int64_t cap = x->cap ? x->cap * 2 : 256;
			float *nd = cap <= FAST_MAX_ELEMS ? realloc(x->data, sizeof(float) * (size_t)cap)
							  : NULL;
			if (!nd)
				return cap <= FAST_MAX_ELEMS ? -2 : -1;
			x->data = nd;
			x->cap = cap;
		}
		if (srv_fast_number(&p, x->end, &x->data[x->next]) != 0)
			return -1;
		x->next++;
	}
	p = srv__ws(p, x->end);
	if (p >= x->end || *p++ != ']')
		return -1;
	x->p = p;
	return 0;
}

/* Does the model take one float32 input of fixed shape past the batch? */
static int srv__fast_model(const mrt_model *model, mrt_io_info *info)
{
	if (mrt_model_kind(model) != MRT_MODEL_GRAPH || mrt_model_n_inputs(model) != 1 ||
	    mrt_model_input(model, 0, info) != 0)
		return 0;
	if (info->dtype != MRT_DTYPE_F32 || info->ndim < 2 || info->dims[0] >= 0)
		return 0;
	for (int d = 1; d < info->ndim; d++)
		if (info->dims[d] < 0)
			return 0;
	return 1;
}

int srv_fast_inputs(const mrt_model *model, const srv_fast_body *fb, codec_inputs *out)
{
	mrt_io_info info;
	srv__fast_dec x = {fb->value, fb->end, &info, NULL, 0, 0};
	int64_t batch = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!fb->value || !srv__fast_model(model, &info))
		return 0;
	const char *p = srv__ws(fb->value + 1, fb->end);
	while (p < fb->end && *p != ']') {
		if (batch > 0) {
			if (*p++ != ',')
				goto fail;
			p = srv__ws(p, fb->end);
		}
		x.p = p;
		if ((rc = srv__fast_list(&x, 1)) != 0)
			goto fail;
		batch++;
		p = srv__ws(x.p, fb->end);
	}
	if (batch == 0 || p >= fb->end)
		goto fail;
	out->t = calloc(1, sizeof(*out->t));
	if (!out->t) {
		rc = -2;
		goto fail;
	}
	if (!x.data && !(x.data = malloc(sizeof(float)))) /* an input of 0 elements */
		goto fail_nomem;
	out->n = 1;
	out->t[0].name = info.name;
	out->t[0].dtype = MRT_DTYPE_F32;
	out->t[0].ndim = info.ndim;
	memcpy(out->t[0].dims, info.dims, sizeof(info.dims));
	out->t[0].dims[0] = batch;
	out->t[0].data = x.data;
	out->batch = batch;
	out->used_instances = fb->used_instances;
	return 1;
fail_nomem:
	free(out->t);
	out->t = NULL;
	rc = -2;
fail:
	free(x.data);
	return rc == -2 ? -1 : 0;
}

/* ---- answers ---- */

typedef struct srv__buf {
	char *s;
	size_t len, cap;
	int oom;
} srv__buf;

static void srv__put(srv__buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n + 1 && cap < SIZE_MAX / 2)
			cap *= 2;
		char *ns = cap - b->len >= n + 1 ? realloc(b->s, cap) : NULL;
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
}

/* A float as the codec prints it (jansson, 9 significant digits): "%.9g",
 * ".0" added when neither '.' nor 'e' shows, the exponent without '+' and
 * leading zeros; NaN and infinities as null. */
static void srv__put_float(srv__buf *b, float f)
{
	char t[40];
	int n;

	if (!isfinite(f)) {
		srv__put(b, "null", 4);
		return;
	}
	n = snprintf(t, sizeof(t) - 3, "%.9g", (double)f);
	if (n < 0 || (size_t)n >= sizeof(t) - 3) {
		b->oom = 1;
		return;
	}
	char *e = strchr(t, 'e');
	if (!e && !strchr(t, '.')) {
		memcpy(t + n, ".0", 3);
		n += 2;
	} else if (e) {
		char *from = e + 1, *to = e + 1;
		if (*from == '-')
			from++, to++;
		else if (*from == '+')
			from++;
		while (*from == '0' && from[1] != '\0')
			from++;
		memmove(to, from, strlen(from) + 1);
		n = (int)strlen(t);
	}
	srv__put(b, t, (size_t)n);
}

/* dims[d..ndim) of t from element *idx (advanced) as nested lists. */
static void srv__put_nested(srv__buf *b, const mrt_tensor *t, int d, int64_t *idx)
{
	if (d == t->ndim) {
		srv__put_float(b, ((const float *)t->data)[(*idx)++]);
		return;
	}
	srv__put(b, "[", 1);
	for (int64_t i = 0; i < t->dims[d]; i++) {
		if (i)
			srv__put(b, ",", 1);
		srv__put_nested(b, t, d + 1, idx);
	}
	srv__put(b, "]", 1);
}

char *srv_fast_outputs_body(const char *model_name, int used_instances, const mrt_tensor *out,
			    int64_t row0, int64_t rows)
{
	srv__buf b = {NULL, 0, 0, 0};
	int64_t row_elems = 1, idx;

	if (out->dtype != MRT_DTYPE_F32 || out->ndim < 1 || row0 < 0 || rows < 0 ||
	    row0 > out->dims[0] - rows)
		return NULL;
	for (const char *p = model_name; p && *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return NULL;
	for (int d = 1; d < out->ndim; d++)
		row_elems *= out->dims[d];
	srv__put(&b, "{", 1);
	if (model_name) {
		srv__put(&b, "\"model\":\"", 9);
		srv__put(&b, model_name, strlen(model_name));
		srv__put(&b, "\",", 2);
	}
	srv__put(&b, used_instances ? "\"predictions\":[" : "\"outputs\":[", used_instances ? 15 : 11);
	idx = row0 * row_elems;
	for (int64_t r = 0; r < rows; r++) {
		if (r)
			srv__put(&b, ",", 1);
		srv__put_nested(&b, out, 1, &idx);
	}
	srv__put(&b, "]}", 3); /* with the terminating NUL */
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
