/* Fast predict-body decoding (see predict_fast.h). Numbers are rounded the
 * way the general path rounds them: integers through int64 (so "-0" is +0),
 * reals to the nearest double (exactly, in integer arithmetic where it is
 * short, see srv__scale10, else by strtod) and then to float. */
#include "config.h"

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

static const double srv__pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 srv__u128;

static const uint64_t srv__pow5[28] = {
	1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull,
	1953125ull, 9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull,
	30517578125ull, 152587890625ull, 762939453125ull, 3814697265625ull,
	19073486328125ull, 95367431640625ull, 476837158203125ull, 2384185791015625ull,
	11920928955078125ull, 59604644775390625ull, 298023223876953125ull,
	1490116119384765625ull, 7450580596923828125ull};

/* n / d and its remainder (OUT) when the quotient fits 64 bits (n >> 64 < d):
 * one divq on x86-64, where the compiler would call a 128-bit division. */
static inline uint64_t srv__div(srv__u128 n, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__)
	uint64_t q, r;
	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"((uint64_t)n), "d"((uint64_t)(n >> 64)), "rm"(d));
	*rem = r;
	return q;
#else
	uint64_t q = (uint64_t)(n / d);
	*rem = (uint64_t)(n - (srv__u128)q * d);
	return q;
#endif
}

/* The double nearest (ties to even) to (m + f) * 2^e2, where 0 <= f < 1 is
 * known only as zero or not (sticky), m > 0 has more than 54 bits whenever f
 * may be nonzero, and the result is a normal double. */
static double srv__round(srv__u128 m, int e2, int sticky)
{
	uint64_t hi = (uint64_t)(m >> 64), mant, bits;
	int top = hi ? 127 - __builtin_clzll(hi) : 63 - __builtin_clzll((uint64_t)m);
	int drop = top - 52; /* bits below the 53 kept */
	double d;

	if (drop <= 0) /* exact, and f is 0 */
		return ldexp((double)(uint64_t)m, e2);
	srv__u128 rest = m & (((srv__u128)1 << drop) - 1), half = (srv__u128)1 << (drop - 1);
	mant = (uint64_t)(m >> drop);
	if (rest > half || (rest == half && (sticky || (mant & 1))))
		mant++;
	e2 += drop;
	if (mant == (uint64_t)1 << 53)
		mant >>= 1, e2++;
	bits = (uint64_t)(e2 + 52 + 1023) << 52 | (mant & (((uint64_t)1 << 52) - 1));
	memcpy(&d, &bits, sizeof(d));
	return d;
}
#endif

/* *d = mant * 10^e10 (mant > 0) rounded to the nearest double, as strtod
 * rounds it. 0, or -1 when it is left to strtod.
 * - Clinger's fast path: mant <= 2^53 and |e10| <= 22 are exact doubles, so
 *   one multiplication or division rounds once, correctly.
 * - Otherwise, for |e10| <= 27 (5^27 < 2^64), exactly in integers:
 *   mant * 10^k = (mant * 5^k) * 2^k, a 128-bit product; mant / 10^k =
 *   ((mant << s) / 5^k) * 2^-(s + k), a quotient of at least 63 bits whose
 *   remainder gives the sticky bit. */
static int srv__scale10(uint64_t mant, int e10, double *d)
{
	if (mant <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
		*d = e10 >= 0 ? (double)mant * srv__pow10[e10] : (double)mant / srv__pow10[-e10];
		return 0;
	}
#ifdef __SIZEOF_INT128__
	if (e10 >= 0 && e10 <= 27) {
		*d = srv__round((srv__u128)mant * srv__pow5[e10], e10, 0);
		return 0;
	}
	if (e10 < 0 && e10 >= -27) {
		/* shifted so the quotient has 63 or 64 bits: one 128-by-64 divide */
		uint64_t p5 = srv__pow5[-e10], rem, q;
		int s = 63 + __builtin_clzll(mant) - __builtin_clzll(p5);
		q = srv__div((srv__u128)mant << s, p5, &rem);
		*d = srv__round(q, e10 - s, rem != 0);
		return 0;
	}
#endif
	return -1;
}

static const uint64_t srv__pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000,
					   10000000, 100000000};

/* The run of digits at q (before end): appended to *mant (wrapping past 19
 * digits: the caller counts them) and its length returned. Eight bytes at a
 * time where eight can be read: the bytes that are digits are found and
 * combined in a register, without a branch per byte. */
static int srv__digits(const char *q, const char *end, uint64_t *mant)
{
	const char *start = q;
	uint64_t m = *mant;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (end - q >= 8) {
		uint64_t x, nondigit;
		memcpy(&x, q, 8);
		x ^= 0x3030303030303030u; /* '0'..'9' become 0..9 */
		nondigit = (((x & 0x7f7f7f7f7f7f7f7fu) + 0x7676767676767676u) | x) &
			   0x8080808080808080u; /* the top bit of each byte > 9 */
		int k = nondigit ? __builtin_ctzll(nondigit) / 8 : 8;
		if (k == 0)
			break;
		x <<= 8 * (8 - k); /* the k digits last, zeros before them */
		x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffu;     /* pairs */
		x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffu;   /* fours */
		x = (x * 10000 + (x >> 32)) & 0x00000000ffffffffu; /* eight */
		m = m * srv__pow10_u64[k] + x;
		q += k;
		if (k < 8)
			break;
	}
#endif
	for (; q < end && *q >= '0' && *q <= '9'; q++)
		m = m * 10 + (uint64_t)(*q - '0');
	*mant = m;
	return (int)(q - start);
}

int srv_fast_number(const char **p, const char *end, float *out)
{
	const char *s = *p, *q = s;
	uint64_t mant = 0;
	int neg = 0, digits, frac = 0, is_real = 0, exp = 0, eneg = 0, edigits = 0, zero;
	double d;

	if (q < end && *q == '-')
		neg = 1, q++;
	if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] >= '0' &&
						 q[1] <= '9'))
		return -1;
	zero = *q == '0'; /* JSON has no other leading zeros */
	if (zero || q + 1 >= end || q[1] < '0' || q[1] > '9') {
		mant = (uint64_t)(*q++ - '0'); /* one digit, the common case */
		digits = !zero;               /* significant ones */
	} else {
		digits = srv__digits(q, end, &mant);
		q += digits;
	}
	if (q < end && *q == '.') {
		is_real = 1;
		if (++q >= end || *q < '0' || *q > '9')
			return -1;
		for (; zero && q < end && *q == '0'; q++)
			frac++;
		int n = srv__digits(q, end, &mant);
		q += n;
		frac += n;
		digits += n;
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

/* ---- lists ---- */

typedef struct srv__list_dec {
	const char *p, *end;
	int ndim;                     /* depth of the numbers + 1; 0 before the first */
	int64_t dims[MRT_MAX_DIMS];   /* entries per list at each depth; 0 before the first */
	float *data;
	int64_t n, cap;
} srv__list_dec;

static int srv__list_push(srv__list_dec *x, const char **p)
{
	if (x->n == x->cap) {
		int64_t cap = x->cap ? x->cap * 2 : 256;
		float *nd = cap <= FAST_MAX_ELEMS ? realloc(x->data, sizeof(float) * (size_t)cap)
						  : NULL;
		if (!nd)
			return -1;
		x->data = nd;
		x->cap = cap;
	}
	if (srv_fast_number(p, x->end, &x->data[x->n]) != 0)
		return -1;
	x->n++;
	return 0;
}

/* The list at x->p ('['), at depth d (0 = the batch): numbers all at one
 * depth, every list at a depth of the same length, none empty. Leaves x->p
 * past its ']'. 0 or -1 (not such a list: the general path decides). */
static int srv__list(srv__list_dec *x, int d)
{
	const char *p = x->p + 1;
	int64_t count = 0;

	if (d >= MRT_MAX_DIMS)
		return -1;
	for (;; count++) {
		p = srv__ws(p, x->end);
		if (p < x->end && *p == ']' && count > 0)
			break;
		if (count > 0 && (p >= x->end || *p++ != ','))
			return -1;
		p = srv__ws(p, x->end);
		if (p >= x->end)
			return -1;
		if (*p == '[') {
			if (x->ndim && d + 1 >= x->ndim)
				return -1; /* a list where the numbers are */
			x->p = p;
			if (srv__list(x, d + 1) != 0)
				return -1;
			p = x->p;
			continue;
		}
		if (x->ndim == 0)
			x->ndim = d + 1;
		if (x->ndim != d + 1 || srv__list_push(x, &p) != 0)
			return -1;
	}
	if (x->dims[d] == 0)
		x->dims[d] = count;
	else if (x->dims[d] != count)
		return -1;
	x->p = p + 1;
	return 0;
}

/* Decode the list at *p into fb (data, ndim, dims); *p past it. 0 or -1. */
static int srv__scan_list(const char **p, const char *end, srv_fast_body *fb)
{
	srv__list_dec x;

	memset(&x, 0, sizeof(x));
	x.p = *p;
	x.end = end;
	if (srv__list(&x, 0) != 0) {
		free(x.data);
		return -1;
	}
	*p = x.p;
	fb->data = x.data;
	fb->ndim = x.ndim;
	memcpy(fb->dims, x.dims, sizeof(fb->dims));
	return 0;
}

/* One "key": value member of the body at *p into fb. 0 or -1. */
static int srv__scan_member(const char **pp, const char *end, srv_fast_body *fb, int *seen_list)
{
	const char *p = srv__ws(*pp, end), *key;
	size_t klen;

	if (p >= end || *p != '"' || srv__plain_string(&p, end, &key, &klen) != 0)
		return -1;
	p = srv__ws(p, end);
	if (p >= end || *p++ != ':')
		return -1;
	p = srv__ws(p, end);
	if (p >= end)
		return -1;
	if (klen == 5 && !memcmp(key, "model", 5) && !fb->model && *p == '"') {
		if (srv__plain_string(&p, end, &fb->model, &fb->model_len) != 0)
			return -1;
	} else if (((klen == 6 && !memcmp(key, "inputs", 6)) ||
		    (klen == 9 && !memcmp(key, "instances", 9))) &&
		   !*seen_list && *p == '[') {
		fb->used_instances = klen == 9;
		if (srv__scan_list(&p, end, fb) != 0)
			return -1;
		*seen_list = 1;
	} else {
		return -1;
	}
	*pp = p;
	return 0;
}

int srv_fast_scan(const char *body, size_t len, srv_fast_body *fb)
{
	const char *end = body + len, *p = srv__ws(body, end);
	int seen_list = 0;

	memset(fb, 0, sizeof(*fb));
	if (p >= end || *p++ != '{')
		return -1;
	for (;;) {
		if (srv__scan_member(&p, end, fb, &seen_list) != 0)
			goto fail;
		p = srv__ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p >= end || *p++ != '}')
			goto fail;
		break;
	}
	if (seen_list && srv__ws(p, end) == end)
		return 0;
fail:
	srv_fast_body_free(fb);
	return -1;
}

void srv_fast_body_free(srv_fast_body *fb)
{
	free(fb->data);
	fb->data = NULL;
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

int srv_fast_inputs(const mrt_model *model, srv_fast_body *fb, codec_inputs *out)
{
	mrt_io_info info;

	memset(out, 0, sizeof(*out));
	if (!fb->data || !srv__fast_model(model, &info) || info.ndim != fb->ndim ||
	    memcmp(info.dims + 1, fb->dims + 1, sizeof(info.dims[0]) * (size_t)(info.ndim - 1)))
		return 0;
	out->t = calloc(1, sizeof(*out->t));
	if (!out->t)
		return -1;
	out->n = 1;
	out->t[0].name = info.name;
	out->t[0].dtype = MRT_DTYPE_F32;
	out->t[0].ndim = info.ndim;
	memcpy(out->t[0].dims, info.dims, sizeof(info.dims));
	out->t[0].dims[0] = fb->dims[0];
	out->t[0].data = fb->data;
	out->batch = fb->dims[0];
	out->used_instances = fb->used_instances;
	fb->data = NULL;
	return 1;
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
