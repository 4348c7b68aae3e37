/* The fast predict-body path against the general one (codec_parse_predict):
 * every body it decodes must give the same dims, flags and float bits; the
 * bodies it must leave to the general path (other keys, shapes, values the
 * general path refuses, numbers it cannot round itself) are left; and under
 * random numbers and byte mutations it never accepts a body differently.
 * Its answers are byte for byte the codec's, for random float bits too. */
#include <stdint.h>

#include "predict_fast.h"
#include "test.h"

static mrt_model *reg, *dig;

/* Parse with both paths. Returns the fast verdict (1 decoded, 0 left); when
 * it decoded, checks the general path agrees bit for bit. */
static int both(const mrt_model *m, const char *body)
{
	srv_fast_body fb;
	codec_inputs fast, slow;
	codec_error e;
	json_error_t jerr;
	int rc = 0;

	if (srv_fast_scan(body, strlen(body), &fb) == 0) {
		rc = srv_fast_inputs(m, &fb, &fast);
		CHECK(rc == 1 || fb.data != NULL); /* left: the data stays the caller's */
		srv_fast_body_free(&fb);
	}
	CHECK(rc == 0 || rc == 1);
	if (rc != 1)
		return rc;
	json_t *j = json_loads(body, 0, &jerr);
	int srv = j ? codec_parse_predict(m, j, &slow, &e) : -1;
	json_decref(j);
	CHECK_EQ_INT(srv, 0);
	if (srv != 0) {
		fprintf(stderr, "  fast accepted what the general path refuses: %.200s\n", body);
		codec_inputs_free(&fast);
		return rc;
	}
	CHECK(fast.n == 1 && slow.n == 1 && fast.batch == slow.batch &&
	      fast.used_instances == slow.used_instances && fast.k == slow.k);
	CHECK(fast.t[0].ndim == slow.t[0].ndim && fast.t[0].dtype == slow.t[0].dtype &&
	      !memcmp(fast.t[0].dims, slow.t[0].dims, sizeof(fast.t[0].dims)) &&
	      !strcmp(fast.t[0].name, slow.t[0].name));
	size_t n = 1;
	for (int d = 0; d < fast.t[0].ndim; d++)
		n *= (size_t)fast.t[0].dims[d];
	if (memcmp(fast.t[0].data, slow.t[0].data, n * sizeof(float)) != 0) {
		CHECK(!"same float bits");
		fprintf(stderr, "  differs: %.300s\n", body);
	}
	codec_inputs_free(&fast);
	codec_inputs_free(&slow);
	return rc;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	return test_xorshift64(&rng);
}

/* A random number in one of the ways clients print them. */
static int number(char *buf, size_t len)
{
	double mag = pow(10.0, (double)(int)(next() % 24) - 12.0);
	double v = ((double)(next() % 2000001) - 1000000.0) / 1000000.0 * mag;
	static const char *fmts[] = {"%.9g", "%.17g", "%g", "%e", "%.3f", "%.0f", "%.6E", "%.12g"};
	switch (next() % 10) {
	case 0:
		return snprintf(buf, len, "%lld", (long long)(next() % 2000001) - 1000000);
	case 1:
		return snprintf(buf, len, "%lld",
				(long long)(next() % 999999999999999999ull) * (next() % 2 ? 1 : -1));
	default:
		return snprintf(buf, len, fmts[next() % 8], v);
	}
}

/* A random number the way number() prints it, read back. */
static double number_value(void)
{
	char buf[64];
	number(buf, sizeof(buf));
	return strtod(buf, NULL);
}

/* A random regression body: batch rows of 10 numbers, random spacing. */
static void random_body(char *buf, size_t len, int batch)
{
	static const char *sp[] = {"", " ", "\n", "\t ", "\r\n"};
	size_t k = 0;
	int instances = next() % 2, model_last = next() % 3 == 0;
	if (!model_last && next() % 2)
		k += (size_t)snprintf(buf + k, len - k, "{%s\"model\"%s:%s\"regression\",",
				      sp[next() % 5], sp[next() % 5], sp[next() % 5]);
	else
		k += (size_t)snprintf(buf + k, len - k, "{");
	k += (size_t)snprintf(buf + k, len - k, "\"%s\":%s[", instances ? "instances" : "inputs",
			      sp[next() % 5]);
	for (int b = 0; b < batch; b++) {
		k += (size_t)snprintf(buf + k, len - k, "%s[", b ? "," : "");
		for (int i = 0; i < 10; i++) {
			k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? "," : "", sp[next() % 5]);
			k += (size_t)number(buf + k, len - k);
		}
		k += (size_t)snprintf(buf + k, len - k, "%s]", sp[next() % 5]);
	}
	k += (size_t)snprintf(buf + k, len - k, "]%s", sp[next() % 5]);
	if (model_last)
		k += (size_t)snprintf(buf + k, len - k, ", \"model\": \"regression\"");
	snprintf(buf + k, len - k, "}%s", sp[next() % 5]);
}

/* srv_fast_number on text against the general path's rounding: strtod then
 * (float) for reals, int64 then (float) for integers. Returns 1 when the fast
 * path decoded it (and checks the bits), 0 when it left it. */
static int number_same(const char *text)
{
	const char *p = text, *end = text + strlen(text);
	float fast, ref;

	if (srv_fast_number(&p, end, &fast) != 0)
		return 0;
	CHECK(p == end);
	if (strpbrk(text, ".eE"))
		ref = (float)strtod(text, NULL);
	else
		ref = (float)(double)strtoll(text, NULL, 10);
	if (memcmp(&fast, &ref, sizeof(fast)) != 0) {
		CHECK(!"same float bits as strtod");
		fprintf(stderr, "  %s: fast %.9g, strtod %.9g\n", text, (double)fast, (double)ref);
	}
	return 1;
}

/* A random double: random bits (finite), or a value near 1 as features are. */
static double random_double(void)
{
	union {
		uint64_t u;
		double d;
	} bits;
	if (next() % 2) {
		bits.u = next();
		bits.u &= ~(0x7ffull << 52);
		bits.u |= (uint64_t)(1023 - 40 + (int)(next() % 80)) << 52; /* 2^-40 .. 2^40 */
		return bits.d;
	}
	return ((double)(next() % 4000001) - 2000000.0) / 1000000.0;
}

static void test_numbers(void)
{
	static const char *edge[] = {
		"0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "0.5", "1e0", "1E+0", "1e-0", "123e-2",
		"9007199254740992", "9007199254740993", "9007199254740993.0", "9007199254740995.0",
		"18014398509481985.0", "0.30000000000000004", "0.1000000000000000055511151231257827",
		"1e22", "1e23", "8.589973e9", "4.35", "2.675", "1.0000000000000002",
		"0.9999999999999999", "0.99999999999999994", "0.99999999999999995",
		"3.4028235e38", "3.4028236e38", "1.17549435e-38", "1.4e-45", "7e-46", "1e-50",
		"2.2250738585072014e-308", "4.9e-324", "1e-400", "123456789012345678",
		"-123456789012345678", "1234567890123456789.0", "0.1234567890123456789",
		"16777217", "16777217.0", "33554435.0", "0.000000000000000000000000001",
		"9999999999999999999e-27", "1e27", "1e28", "0.9108999967575073",
		"0.44609999656677246", "-0.31769999861717224", "1.6029000282287598",
		"6.103515625e-05", "0.33333334326744080", "1.00000005960464477539",
		"1.000000059604644775", "1.000000059604644776", "1.000000059604644774",
	};
	char buf[64];
	int decoded = 0, total = 0;

	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		number_same(edge[i]);
	/* the fast path must take the common forms, not leave them all */
	CHECK_EQ_INT(number_same("0.9108999967575073"), 1);
	CHECK_EQ_INT(number_same("-0.31769999861717224"), 1);
	CHECK_EQ_INT(number_same("1.000000059604644775"), 1);
	/* every power of ten the integer path scales by, with long mantissas */
	for (int e = -30; e <= 30; e++) {
		for (int i = 0; i < 200; i++) {
			uint64_t m = i == 0 ? 9999999999999999999ull : 1000000000000000000ull +
								 next() % 9000000000000000000ull;
			snprintf(buf, sizeof(buf), "%llu%c%d", (unsigned long long)m,
				 i % 2 ? 'e' : 'E', e);
			/* left only when it overflows a float (the general path's error) */
			CHECK_EQ_INT(number_same(buf), isfinite((float)strtod(buf, NULL)));
			snprintf(buf, sizeof(buf), "0.%llue%d", (unsigned long long)m, e);
			CHECK_EQ_INT(number_same(buf), 1);
		}
	}
	for (int it = 0; it < 200000; it++) {
		double v = random_double();
		float f = (float)v;
		switch (it % 8) {
		case 0: snprintf(buf, sizeof(buf), "%.17g", v); break;
		case 1: snprintf(buf, sizeof(buf), "%.16g", v); break;
		case 2: snprintf(buf, sizeof(buf), "%.9g", (double)f); break;
		case 3: snprintf(buf, sizeof(buf), "%.17g", (double)f); break; /* a float as double */
		case 4: snprintf(buf, sizeof(buf), "%.18e", v); break;          /* 19 digits */
		case 5: {
			/* 19 digits next to the midpoint between v and the next double:
			 * where rounding twice could go wrong */
			double hi = nextafter(v, INFINITY);
			long double mid = ((long double)v + (long double)hi) / 2;
			snprintf(buf, sizeof(buf), "%.18Le", mid);
			break;
		}
		case 6: {
			/* 19 digits next to a midpoint between two floats */
			float fh = nextafterf(f, INFINITY);
			snprintf(buf, sizeof(buf), "%.18e", ((double)f + (double)fh) / 2);
			break;
		}
		default:
			snprintf(buf, sizeof(buf), "%lld.%llde%d", (long long)(next() % 1000000000),
				 (long long)(next() % 1000000000), (int)(next() % 60) - 30);
		}
		decoded += number_same(buf);
		total++;
	}
	fprintf(stderr, "numbers: %d of %d decoded fast\n", decoded, total);
	CHECK(decoded > total * 9 / 10);
}

static void test_handled(void)
{
	static const char *row = "[0.1,-0.2,3,4e-3,5E+2,-0,-0.0,1e-30,3.4e38,123456789012345678]";
	char body[4096];

	snprintf(body, sizeof(body), "{\"model\":\"regression\",\"inputs\":[%s]}", row);
	CHECK_EQ_INT(both(reg, body), 1);
	snprintf(body, sizeof(body), " { \"inputs\" : [ %s , %s ] , \"model\" : \"regression\" } \n",
		 row, row);
	CHECK_EQ_INT(both(reg, body), 1);
	snprintf(body, sizeof(body), "{\"instances\":[%s]}", row);
	CHECK_EQ_INT(both(reg, body), 1);
	/* digits: [*,1,8,8] */
	size_t k = (size_t)snprintf(body, sizeof(body), "{\"inputs\":[[[");
	for (int r = 0; r < 8; r++) {
		k += (size_t)snprintf(body + k, sizeof(body) - k, "%s[", r ? "," : "");
		for (int c = 0; c < 8; c++)
			k += (size_t)snprintf(body + k, sizeof(body) - k, "%s%d.%d", c ? "," : "",
					      (r * c) % 17, r + c);
		k += (size_t)snprintf(body + k, sizeof(body) - k, "]");
	}
	snprintf(body + k, sizeof(body) - k, "]]], \"model\": \"digits\"}");
	CHECK_EQ_INT(both(dig, body), 1);
}

static void test_left(void)
{
	static const char *bodies[] = {
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9]]}",              /* wrong shape */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10,11]]}",        /* wrong shape */
		"{\"inputs\":[]}",                                 /* empty batch */
		"{\"inputs\":[1,2,3,4,5,6,7,8,9,10]}",             /* not nested */
		"{\"inputs\":[[[1],2,3,4,5,6,7,8,9,10]]}",         /* too deep */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10],[1,2]]}",   /* ragged */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10],[[1,2,3,4,5,6,7,8,9,10]]]}",
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10],3]}",       /* a number beside a row */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10],[]]}",      /* an empty row */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10] [1,2,3,4,5,6,7,8,9,10]]}",
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,1e39]]}",         /* float overflow */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,1e400]]}",        /* double overflow */
		"{\"inputs\":[[01,2,3,4,5,6,7,8,9,10]]}",          /* not JSON */
		"{\"inputs\":[[1.,2,3,4,5,6,7,8,9,10]]}",          /* not JSON */
		"{\"inputs\":[[.5,2,3,4,5,6,7,8,9,10]]}",          /* not JSON */
		"{\"inputs\":[[+1,2,3,4,5,6,7,8,9,10]]}",          /* not JSON */
		"{\"inputs\":[[1e,2,3,4,5,6,7,8,9,10]]}",          /* not JSON */
		"{\"inputs\":[[1,,3,4,5,6,7,8,9,10]]}",            /* not JSON */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10],]}",          /* not JSON */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10]]",            /* unterminated */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10]]}x",          /* trailing bytes */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,\"10\"]]}",       /* a string */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,null]]}",         /* null */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,1234567890123456789]]}", /* 19 digits */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10]],\"k\":1}",   /* another key */
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10]],\"inputs\":[[1,2,3,4,5,6,7,8,9,10]]}",
		"{\"inputs\":[[1,2,3,4,5,6,7,8,9,10]],\"instances\":[[1,2,3,4,5,6,7,8,9,10]]}",
		"{\"model\":\"re\\u0067ression\",\"inputs\":[[1,2,3,4,5,6,7,8,9,10]]}",
		"{\"inputs\":{\"x\":[[1,2,3,4,5,6,7,8,9,10]]}}",   /* named inputs */
		"{\"instances\":[{\"x\":[1,2,3,4,5,6,7,8,9,10]}]}", /* instance objects */
		"[[1,2,3,4,5,6,7,8,9,10]]",
		"",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		int rc = both(reg, bodies[i]);
		CHECK_EQ_INT(rc, 0);
		if (rc != 0)
			fprintf(stderr, "  accepted: %s\n", bodies[i]);
	}
}

static void test_random(void)
{
	static char body[65536], mut[65536];
	int handled = 0, mutated_handled = 0;

	for (int it = 0; it < 3000; it++) {
		random_body(body, sizeof(body), 1 + (int)(next() % 8));
		handled += both(reg, body) == 1;
		/* flip, drop or insert a byte: whatever fast accepts, the general
		 * path must accept with the same values */
		size_t n = strlen(body), at = next() % n;
		static const char pick[] = "0123456789-+.eE,[]{} \"x:";
		memcpy(mut, body, n + 1);
		switch (next() % 3) {
		case 0:
			mut[at] = pick[next() % (sizeof(pick) - 1)];
			break;
		case 1:
			memmove(mut + at, mut + at + 1, n - at);
			break;
		default:
			memmove(mut + at + 1, mut + at, n - at + 1);
			mut[at] = pick[next() % (sizeof(pick) - 1)];
		}
		mutated_handled += both(reg, mut) == 1;
	}
	fprintf(stderr, "random: %d of 3000 bodies decoded fast, %d mutants decoded fast\n",
		handled, mutated_handled);
	CHECK(handled == 3000); /* every random number format above is handled */
	CHECK(mutated_handled > 0 && mutated_handled < 3000);
}

/* The answer body against codec_predict_body(codec_outputs_json(...)). */
static void answer_same(const mrt_tensor *t, int64_t row0, int64_t rows, const char *name,
			int inst)
{
	char *fast = srv_fast_outputs_body(name, inst, t, row0, rows);
	char *slow = codec_predict_body(name, codec_outputs_json(reg, t, row0, rows), inst);
	CHECK(fast != NULL && slow != NULL);
	if (fast && slow && strcmp(fast, slow) != 0) {
		CHECK(!"same answer bytes");
		fprintf(stderr, "  fast %.300s\n  slow %.300s\n", fast, slow);
	}
	free(fast);
	free(slow);
}

static void test_answers(void)
{
	static const float special[] = {0.0f, -0.0f, 1.0f, -3.0f, 100000000.0f, 1e9f, 1e20f,
					1e-7f, 1.5e-10f, 3.4028235e38f, 1e-45f, 0.1f, 123456.789f,
					NAN, INFINITY, -INFINITY};
	static float data[4 * 3 * 2];
	mrt_tensor t;
	union {
		uint32_t u;
		float f;
	} bits;

	memset(&t, 0, sizeof(t));
	t.name = "y";
	t.dtype = MRT_DTYPE_F32;
	t.data = data;
	for (int it = 0; it < 2000; it++) {
		for (int i = 0; i < 24; i++) {
			if (it < 2) {
				data[i] = special[(i + it * 24) % 16];
				continue;
			}
			bits.u = (uint32_t)next();
			data[i] = next() % 2 ? bits.f : (float)number_value();
		}
		t.ndim = 1 + it % 3;
		t.dims[0] = 4;
		t.dims[1] = it % 3 == 2 ? 3 : 6;
		t.dims[2] = 2;
		if (t.ndim == 2)
			t.dims[1] = 6;
		if (t.ndim == 1)
			t.dims[0] = 24;
		int64_t row0 = it % 2, rows = t.dims[0] - row0 - (it % 3 == 0);
		answer_same(&t, row0, rows, it % 4 ? "regression" : NULL, it % 5 == 0);
	}
	t.ndim = 2;
	t.dims[0] = 2;
	t.dims[1] = 1;
	CHECK(srv_fast_outputs_body("we\"ird", 0, &t, 0, 2) == NULL); /* the codec escapes */
	t.dtype = MRT_DTYPE_I64;
	CHECK(srv_fast_outputs_body("m", 0, &t, 0, 2) == NULL);
}

int main(void)
{
	const char *src = getenv("top_srcdir");
	char path[1024], err[512];

	snprintf(path, sizeof(path), "%s/models/regression.gguf", src ? src : ".");
	reg = mrt_model_load(path, NULL, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/models/digits.gguf", src ? src : ".");
	dig = mrt_model_load(path, NULL, err, sizeof(err));
	if (!reg || !dig) {
		fprintf(stderr, "demo models: %s\n", err);
		return 77;
	}
	test_numbers();
	test_handled();
	test_left();
	test_random();
	test_answers();
	mrt_model_free(reg);
	mrt_model_free(dig);
	TEST_END();
}
