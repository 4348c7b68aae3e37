/* GGUF reader and writer: round trips through the writer, files built byte by
 * byte here (an encoder independent of the library), real llama.cpp vocab
 * files, hostile files that must be refused with a precise message, and a
 * mutation loop that must never crash. */
#include "mrt.h"
#include "mrt_gguf.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- an independent little GGUF encoder ---- */

typedef struct buf {
	unsigned char *p;
	size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u8(buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_u16(buf *b, uint16_t v)
{
	put(b, &v, 2);
}

static void put_u32(buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put_u64(buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void put_str(buf *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

static void put_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	put(b, "GGUF", 4);
	put_u32(b, version);
	put_u64(b, n_tensors);
	put_u64(b, n_kv);
}

/* A key and its value type; the caller puts the value. */
static void put_key(buf *b, const char *key, uint32_t vt)
{
	put_str(b, key);
	put_u32(b, vt);
}

static void put_pad(buf *b, size_t align)
{
	while (b->n % align)
		put_u8(b, 0);
}

static void put_tensor_info(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                            uint32_t type, uint64_t offset)
{
	uint32_t d;

	put_str(b, name);
	put_u32(b, n_dims);
	for (d = 0; d < n_dims; d++)
		put_u64(b, ne[d]);
	put_u32(b, type);
	put_u64(b, offset);
}

/* ---- tensor sizes, independent of quant.c ---- */

static uint64_t ref_nbytes(int type, uint64_t n)
{
	switch (type) {
	case MRT_TYPE_F32:
		return 4 * n;
	case MRT_TYPE_F16:
		return 2 * n;
	case MRT_TYPE_Q8_0:
		return n / 32 * 34;
	case MRT_TYPE_Q4_0:
		return n / 32 * 18;
	case MRT_TYPE_I64:
		return 8 * n;
	default:
		return 0;
	}
}

/* Opens b as a buffer; expects failure with every word of `words` (a list
 * ending in NULL) in the message. */
static void expect_refused_(const buf *b, const char *const *words, const char *file, int line)
{
	char err[512] = "";
	mrt_gguf *g = mrt_gguf_open_buffer(b->p, b->n, err, sizeof err);
	int i;

	test__checks++;
	if (g != NULL) {
		test__failures++;
		fprintf(stderr, "%s:%d: hostile file was accepted\n", file, line);
		mrt_gguf_close(g);
		return;
	}
	for (i = 0; words[i]; i++) {
		test__checks++;
		if (strstr(err, words[i]) == NULL) {
			test__failures++;
			fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", file, line, err,
			        words[i]);
		}
	}
}
#define EXPECT_REFUSED(b, ...)                                                                     \
	expect_refused_((b), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	return test_xorshift64(&rng_state);
}

/* ---- walking every accessor (used on anything that opened) ---- */

static uint64_t walk_value(const mrt_gguf_value *v, int depth)
{
	uint64_t sum = (uint64_t)v->type, i;
	mrt_gguf_str s;
	mrt_gguf_value sub;
	int64_t iv;
	double dv;

	if (v->type != MRT_GGUF_ARRAY)
		return sum + (v->type == MRT_GGUF_STRING ? v->v.str.len : v->v.u64);
	for (i = 0; i < v->v.arr.n && i < 64; i++) {
		if (mrt_gguf_arr_str(v, i, &s) == 0)
			sum += s.len + (s.len ? (unsigned char)s.ptr[0] : 0);
		if (mrt_gguf_arr_sub(v, i, &sub) == 0)
			sum += walk_value(&sub, depth + 1);
		if (mrt_gguf_arr_i64(v, i, &iv) == 0)
			sum += (uint64_t)iv;
		if (mrt_gguf_arr_f64(v, i, &dv) == 0)
			sum += dv == dv;
	}
	return sum;
}

static uint64_t walk_file(const mrt_gguf *g)
{
	uint64_t sum = 0, i, k;
	mrt_gguf_str key;
	mrt_gguf_value val;
	mrt_gguf_tensor_info t;
	char name[128];

	for (i = 0; i < mrt_gguf_n_kv(g); i++) {
		CHECK(mrt_gguf_kv(g, i, &key, &val) == 0);
		sum += walk_value(&val, 0);
		if (key.len < sizeof name && memchr(key.ptr, 0, key.len) == NULL) {
			memcpy(name, key.ptr, key.len);
			name[key.len] = '\0';
			CHECK(mrt_gguf_find_kv(g, name) == (int64_t)i);
		}
	}
	for (i = 0; i < mrt_gguf_n_tensors(g); i++) {
		CHECK(mrt_gguf_tensor(g, i, &t) == 0);
		for (k = 0; k < t.nbytes; k += 4096)
			sum += ((const unsigned char *)t.data)[k];
		if (t.nbytes)
			sum += ((const unsigned char *)t.data)[t.nbytes - 1];
	}
	return sum;
}

/* ---- a small valid file with every value type, built here ---- */

/* Offsets of interesting fields in the file made by build_small(). */
typedef struct small_layout {
	size_t bool_value;  /* the scalar bool's byte */
	size_t tensor_info; /* start of the first tensor info */
	size_t data_start;
} small_layout;

static const uint64_t small_ne0[2] = {3, 2}; /* f32 [3, 2] */
static const uint64_t small_ne1[1] = {32};   /* q8_0 [32] */

static void build_small(buf *b, small_layout *lay)
{
	int32_t i32s[3] = {-1, 0, 7};
	uint32_t k;

	put_header(b, 3, 2, 17);
	put_key(b, "u8", MRT_GGUF_UINT8), put_u8(b, 200);
	put_key(b, "i8", MRT_GGUF_INT8), put_u8(b, 0x80);
	put_key(b, "u16", MRT_GGUF_UINT16), put_u16(b, 65535);
	put_key(b, "i16", MRT_GGUF_INT16), put_u16(b, 0xfffe);
	put_key(b, "u32", MRT_GGUF_UINT32), put_u32(b, 4000000000u);
	put_key(b, "i32", MRT_GGUF_INT32), put_u32(b, (uint32_t)-123456);
	put_key(b, "f32", MRT_GGUF_FLOAT32);
	{
		float f = 1.5f;
		put(b, &f, 4);
	}
	lay->bool_value = b->n + 8 + strlen("flag") + 4;
	put_key(b, "flag", MRT_GGUF_BOOL), put_u8(b, 1);
	put_key(b, "name", MRT_GGUF_STRING), put_str(b, "hello");
	put_key(b, "u64", MRT_GGUF_UINT64), put_u64(b, UINT64_MAX);
	put_key(b, "i64", MRT_GGUF_INT64), put_u64(b, (uint64_t)INT64_MIN);
	put_key(b, "f64", MRT_GGUF_FLOAT64);
	{
		double d = -2.25;
		put(b, &d, 8);
	}
	put_key(b, "arr.i32", MRT_GGUF_ARRAY), put_u32(b, MRT_GGUF_INT32), put_u64(b, 3);
	put(b, i32s, sizeof i32s);
	put_key(b, "arr.str", MRT_GGUF_ARRAY), put_u32(b, MRT_GGUF_STRING), put_u64(b, 3);
	put_str(b, "a"), put_str(b, ""), put_str(b, "ccc");
	put_key(b, "arr.bool", MRT_GGUF_ARRAY), put_u32(b, MRT_GGUF_BOOL), put_u64(b, 2);
	put_u8(b, 0), put_u8(b, 1);
	/* [[1, 2], [], [3]] as u16 arrays, then [["x"], ["y", "zz"]] */
	put_key(b, "arr.nested", MRT_GGUF_ARRAY), put_u32(b, MRT_GGUF_ARRAY), put_u64(b, 3);
	put_u32(b, MRT_GGUF_UINT16), put_u64(b, 2), put_u16(b, 1), put_u16(b, 2);
	put_u32(b, MRT_GGUF_UINT16), put_u64(b, 0);
	put_u32(b, MRT_GGUF_UINT16), put_u64(b, 1), put_u16(b, 3);
	put_key(b, "arr.nested_str", MRT_GGUF_ARRAY), put_u32(b, MRT_GGUF_ARRAY), put_u64(b, 2);
	put_u32(b, MRT_GGUF_STRING), put_u64(b, 1), put_str(b, "x");
	put_u32(b, MRT_GGUF_STRING), put_u64(b, 2), put_str(b, "y"), put_str(b, "zz");
	lay->tensor_info = b->n;
	put_tensor_info(b, "w", 2, small_ne0, MRT_TYPE_F32, 0);
	put_tensor_info(b, "q", 1, small_ne1, MRT_TYPE_Q8_0, 32);
	put_pad(b, 32);
	lay->data_start = b->n;
	for (k = 0; k < 32 + 34; k++)
		put_u8(b, (uint8_t)(k * 7 + 1)); /* 24 bytes of w, 8 pad, 34 of q */
}

static void test_small_values(void)
{
	buf b = {0};
	small_layout lay;
	char err[256] = "";
	mrt_gguf *g;
	mrt_gguf_value v, sub;
	mrt_gguf_str s;
	mrt_gguf_tensor_info t;
	uint64_t u;
	int64_t i;
	float f;
	double d;

	build_small(&b, &lay);
	g = mrt_gguf_open_buffer(b.p, b.n, err, sizeof err);
	CHECK(g != NULL);
	if (g == NULL) {
		fprintf(stderr, "small file refused: %s\n", err);
		free(b.p);
		return;
	}
	CHECK_EQ_INT(mrt_gguf_version(g), 3);
	CHECK_EQ_INT(mrt_gguf_n_kv(g), 17);
	CHECK_EQ_INT(mrt_gguf_n_tensors(g), 2);
	CHECK_EQ_INT(mrt_gguf_alignment(g), 32);
	CHECK_EQ_INT(mrt_gguf_file_size(g), b.n);
	CHECK(mrt_gguf_get_u64(g, "u8", &u) == 0 && u == 200);
	CHECK(mrt_gguf_get_i64(g, "i8", &i) == 0 && i == -128);
	CHECK(mrt_gguf_get_u64(g, "i8", &u) == -1); /* negative does not fit */
	CHECK(mrt_gguf_get_u64(g, "u16", &u) == 0 && u == 65535);
	CHECK(mrt_gguf_get_i64(g, "i16", &i) == 0 && i == -2);
	CHECK(mrt_gguf_get_u64(g, "u32", &u) == 0 && u == 4000000000u);
	CHECK(mrt_gguf_get_i64(g, "u32", &i) == 0 && i == 4000000000);
	CHECK(mrt_gguf_get_i64(g, "i32", &i) == 0 && i == -123456);
	CHECK(mrt_gguf_get_f32(g, "f32", &f) == 0 && f == 1.5f);
	CHECK(mrt_gguf_get_u64(g, "f32", &u) == -1);
	CHECK(mrt_gguf_kv(g, mrt_gguf_find_kv(g, "flag"), &s, &v) == 0);
	CHECK(v.type == MRT_GGUF_BOOL && v.v.b == 1 && mrt_gguf_str_eq(s, "flag"));
	CHECK(mrt_gguf_get_str(g, "name", &s) == 0 && mrt_gguf_str_eq(s, "hello"));
	CHECK(!mrt_gguf_str_eq(s, "hell") && !mrt_gguf_str_eq(s, "hello!"));
	CHECK(mrt_gguf_get_u64(g, "u64", &u) == 0 && u == UINT64_MAX);
	CHECK(mrt_gguf_get_i64(g, "u64", &i) == -1); /* too big for int64 */
	CHECK(mrt_gguf_get_i64(g, "i64", &i) == 0 && i == INT64_MIN);
	CHECK(mrt_gguf_get_f32(g, "f64", &f) == 0 && f == -2.25f);
	CHECK(mrt_gguf_get_str(g, "missing", &s) == -1 && mrt_gguf_find_kv(g, "missin") == -1);
	CHECK(mrt_gguf_get_arr(g, "arr.i32", &v) == 0 && v.v.arr.n == 3);
	CHECK(mrt_gguf_arr_i64(&v, 0, &i) == 0 && i == -1);
	CHECK(mrt_gguf_arr_i64(&v, 2, &i) == 0 && i == 7);
	CHECK(mrt_gguf_arr_i64(&v, 3, &i) == -1 && mrt_gguf_arr_f64(&v, 0, &d) == -1);
	CHECK(mrt_gguf_get_arr(g, "arr.str", &v) == 0 && v.v.arr.n == 3);
	CHECK(mrt_gguf_arr_str(&v, 2, &s) == 0 && mrt_gguf_str_eq(s, "ccc"));
	CHECK(mrt_gguf_arr_str(&v, 1, &s) == 0 && s.len == 0);
	CHECK(mrt_gguf_arr_str(&v, 3, &s) == -1 && mrt_gguf_arr_i64(&v, 0, &i) == -1);
	{
		mrt_gguf_str all[3];
		CHECK(mrt_gguf_arr_strs(&v, all) == 0 && mrt_gguf_str_eq(all[0], "a") &&
		      mrt_gguf_str_eq(all[2], "ccc"));
	}
	CHECK(mrt_gguf_get_arr(g, "arr.bool", &v) == 0 && v.v.arr.elem_type == MRT_GGUF_BOOL);
	CHECK(v.v.arr.nbytes == 2 && v.v.arr.data[0] == 0 && v.v.arr.data[1] == 1);
	CHECK(mrt_gguf_get_arr(g, "arr.nested", &v) == 0 && v.v.arr.n == 3);
	CHECK(mrt_gguf_arr_sub(&v, 0, &sub) == 0 && sub.v.arr.n == 2);
	CHECK(mrt_gguf_arr_i64(&sub, 1, &i) == 0 && i == 2);
	CHECK(mrt_gguf_arr_sub(&v, 1, &sub) == 0 && sub.v.arr.n == 0 && sub.v.arr.nbytes == 0);
	CHECK(mrt_gguf_arr_sub(&v, 2, &sub) == 0 && sub.v.arr.n == 1);
	CHECK(mrt_gguf_arr_i64(&sub, 0, &i) == 0 && i == 3);
	CHECK(mrt_gguf_arr_sub(&v, 3, &sub) == -1);
	CHECK(mrt_gguf_get_arr(g, "arr.nested_str", &v) == 0);
	CHECK(mrt_gguf_arr_sub(&v, 1, &sub) == 0 && mrt_gguf_arr_str(&sub, 1, &s) == 0 &&
	      mrt_gguf_str_eq(s, "zz"));
	CHECK(mrt_gguf_find_tensor(g, "q") == 1 && mrt_gguf_find_tensor(g, "w") == 0);
	CHECK(mrt_gguf_find_tensor(g, "x") == -1);
	CHECK(mrt_gguf_tensor(g, 1, &t) == 0 && t.type == MRT_TYPE_Q8_0 && t.nbytes == 34);
	CHECK(t.n_dims == 1 && t.ne[0] == 32 && t.ne[1] == 1 && t.offset == 32);
	CHECK((const unsigned char *)t.data == b.p + lay.data_start + 32);
	CHECK(mrt_gguf_tensor(g, 0, &t) == 0 && t.nbytes == 24 && t.ne[1] == 2);
	CHECK(mrt_gguf_tensor(g, 2, &t) == -1 && mrt_gguf_kv(g, 17, &s, &v) == -1);
	mrt_gguf_close(g);
	free(b.p);
}

/* ---- writer round trip ---- */

static char tmpdir[256];

static void tmp_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

/* Values equal, nested arrays by their raw bytes. */
static int same_value(const mrt_gguf_value *a, const mrt_gguf_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case MRT_GGUF_STRING:
		return a->v.str.len == b->v.str.len &&
		       memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
	case MRT_GGUF_ARRAY:
		return a->v.arr.elem_type == b->v.arr.elem_type && a->v.arr.n == b->v.arr.n &&
		       a->v.arr.nbytes == b->v.arr.nbytes &&
		       memcmp(a->v.arr.data, b->v.arr.data, a->v.arr.nbytes) == 0;
	case MRT_GGUF_BOOL:
		return a->v.b == b->v.b;
	case MRT_GGUF_FLOAT32:
	case MRT_GGUF_FLOAT64:
		return a->v.f64 == b->v.f64;
	default:
		return a->v.u64 == b->v.u64;
	}
}

typedef struct rt_tensor {
	const char *name;
	int type;
	uint32_t n_dims;
	uint64_t ne[4];
	unsigned char *data;
	uint64_t nbytes;
} rt_tensor;

static rt_tensor rt_tensors[] = {
    {"t.f32", MRT_TYPE_F32, 3, {3, 5, 2, 1}, NULL, 0},
    {"t.f16", MRT_TYPE_F16, 2, {7, 3, 1, 1}, NULL, 0},
    {"t.q8_0", MRT_TYPE_Q8_0, 2, {64, 3, 1, 1}, NULL, 0},
    {"t.q4_0", MRT_TYPE_Q4_0, 4, {32, 5, 1, 2}, NULL, 0},
    {"t.i64", MRT_TYPE_I64, 1, {5, 1, 1, 1}, NULL, 0},
};
#define N_RT (sizeof rt_tensors / sizeof rt_tensors[0])

static void fill_writer(mrt_gguf_writer *w, const mrt_gguf *src)
{
	static const uint8_t u8s[3] = {1, 2, 255};
	static const int16_t i16s[2] = {-300, 300};
	static const uint8_t bools[3] = {1, 0, 1};
	static const double f64s[2] = {0.1, -1e300};
	static const char *const strs[4] = {"alpha", "", "gamma delta", "\xe2\x96\x81tok"};
	uint64_t i, k;

	for (i = 0; i < mrt_gguf_n_kv(src); i++)
		CHECK_EQ_INT(mrt_gguf_writer_copy_kv(w, src, i), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_u32(w, "w.u32", 0xdeadbeef), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_i32(w, "w.i32", -5), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_u64(w, "w.u64", 1ull << 40), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_i64(w, "w.i64", -(1ll << 40)), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_f32(w, "w.f32", 0.25f), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_bool(w, "w.bool", 7), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_str(w, "w.str", "modeld"), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "w.arr.u8", MRT_GGUF_UINT8, u8s, 3), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "w.arr.i16", MRT_GGUF_INT16, i16s, 2), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "w.arr.bool", MRT_GGUF_BOOL, bools, 3), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "w.arr.f64", MRT_GGUF_FLOAT64, f64s, 2), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "w.arr.empty", MRT_GGUF_INT32, NULL, 0), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr_str(w, "w.arr.str", strs, 4), 0);
	for (i = 0; i < N_RT; i++) {
		rt_tensor *t = &rt_tensors[i];
		uint64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
		t->nbytes = ref_nbytes(t->type, n);
		t->data = malloc(t->nbytes);
		for (k = 0; k < t->nbytes; k++)
			t->data[k] = (unsigned char)rng();
		CHECK_EQ_INT(
		    mrt_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), 0);
	}
}

/* first: index of the first copied key (1 when general.alignment was set
 * before the copies). */
static void check_written(const mrt_gguf *g, const mrt_gguf *src, uint32_t align, uint64_t first)
{
	mrt_gguf_str key, key2, s;
	mrt_gguf_value a, b;
	mrt_gguf_tensor_info t;
	uint64_t i, u;
	int64_t iv;
	double d;
	float f;

	CHECK_EQ_INT(mrt_gguf_version(g), 3);
	CHECK_EQ_INT(mrt_gguf_alignment(g), align);
	CHECK_EQ_INT(mrt_gguf_n_kv(g), mrt_gguf_n_kv(src) + 13 + first);
	for (i = 0; i < mrt_gguf_n_kv(src); i++) {
		CHECK(mrt_gguf_kv(src, i, &key, &a) == 0 &&
		      mrt_gguf_kv(g, i + first, &key2, &b) == 0);
		CHECK(key.len == key2.len && memcmp(key.ptr, key2.ptr, key.len) == 0);
		CHECK(same_value(&a, &b));
	}
	CHECK(mrt_gguf_get_u64(g, "w.u32", &u) == 0 && u == 0xdeadbeef);
	CHECK(mrt_gguf_get_i64(g, "w.i32", &iv) == 0 && iv == -5);
	CHECK(mrt_gguf_get_u64(g, "w.u64", &u) == 0 && u == 1ull << 40);
	CHECK(mrt_gguf_get_i64(g, "w.i64", &iv) == 0 && iv == -(1ll << 40));
	CHECK(mrt_gguf_get_f32(g, "w.f32", &f) == 0 && f == 0.25f);
	CHECK(mrt_gguf_kv(g, mrt_gguf_find_kv(g, "w.bool"), NULL, &a) == 0);
	CHECK(a.type == MRT_GGUF_BOOL && a.v.b == 1);
	CHECK(mrt_gguf_get_str(g, "w.str", &s) == 0 && mrt_gguf_str_eq(s, "modeld"));
	CHECK(mrt_gguf_get_arr(g, "w.arr.u8", &a) == 0 && mrt_gguf_arr_i64(&a, 2, &iv) == 0 &&
	      iv == 255);
	CHECK(mrt_gguf_get_arr(g, "w.arr.i16", &a) == 0 && mrt_gguf_arr_i64(&a, 0, &iv) == 0 &&
	      iv == -300);
	CHECK(mrt_gguf_get_arr(g, "w.arr.bool", &a) == 0 && a.v.arr.n == 3 &&
	      memcmp(a.v.arr.data, "\1\0\1", 3) == 0);
	CHECK(mrt_gguf_get_arr(g, "w.arr.f64", &a) == 0 && mrt_gguf_arr_f64(&a, 1, &d) == 0 &&
	      d == -1e300);
	CHECK(mrt_gguf_get_arr(g, "w.arr.empty", &a) == 0 && a.v.arr.n == 0);
	CHECK(mrt_gguf_get_arr(g, "w.arr.str", &a) == 0 && a.v.arr.n == 4);
	CHECK(mrt_gguf_arr_str(&a, 3, &s) == 0 && mrt_gguf_str_eq(s, "\xe2\x96\x81tok"));
	CHECK(mrt_gguf_arr_str(&a, 1, &s) == 0 && s.len == 0);
	CHECK_EQ_INT(mrt_gguf_n_tensors(g), N_RT);
	CHECK(mrt_gguf_file_size(g) % align == 0); /* the last tensor is padded too */
	for (i = 0; i < N_RT; i++) {
		const rt_tensor *r = &rt_tensors[i];
		CHECK(mrt_gguf_tensor(g, (uint64_t)mrt_gguf_find_tensor(g, r->name), &t) == 0);
		CHECK(mrt_gguf_str_eq(t.name, r->name) && t.type == r->type);
		CHECK(t.n_dims == r->n_dims && memcmp(t.ne, r->ne, sizeof t.ne) == 0);
		CHECK(t.nbytes == r->nbytes && memcmp(t.data, r->data, r->nbytes) == 0);
		CHECK(t.offset % align == 0 && (uintptr_t)t.data % align == 0);
	}
}

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Minor page faults taken while reading every tensor byte of g. */
static long faults_reading(const mrt_gguf *g)
{
	volatile unsigned sum = 0;
	long before = minor_faults();
	for (uint64_t i = 0; i < mrt_gguf_n_tensors(g); i++) {
		mrt_gguf_tensor_info t;
		if (mrt_gguf_tensor(g, i, &t) == 0)
			for (uint64_t k = 0; k < t.nbytes; k++)
				sum += ((const unsigned char *)t.data)[k];
	}
	return minor_faults() - before;
}

/* mrt_gguf_populate maps the file's pages at once: reading the tensors
 * then takes no page fault, where a handle without it faults them in (a
 * tensor of 1 MiB, past the pages that parsing the header touched). A
 * buffer handle has no map to populate (test_writer_round_trip). */
static void test_populate(void)
{
	enum { N = 1 << 18 };
	uint64_t ne[1] = {N};
	float *data = calloc(N, sizeof(float));
	char err[256], path[512];
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	CHECK(data != NULL && w != NULL);
	if (data == NULL || w == NULL) {
		free(data);
		mrt_gguf_writer_free(w);
		return;
	}
	for (int i = 0; i < N; i++)
		data[i] = (float)i;
	tmp_path(path, sizeof path, "populate.gguf");
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "big", MRT_TYPE_F32, 1, ne, data), 0);
	CHECK_EQ_INT(mrt_gguf_writer_write(w, path, err, sizeof err), 0);
	mrt_gguf *lazy = mrt_gguf_open(path, err, sizeof err),
	         *eager = mrt_gguf_open(path, err, sizeof err);
	CHECK(lazy != NULL && eager != NULL);
	if (lazy && eager) {
		if (mrt_gguf_populate(eager) != 0) {
			fprintf(stderr, "populate: not supported by this kernel, skipped\n");
		} else {
			long lazy_faults = faults_reading(lazy),
			     eager_faults = faults_reading(eager);
			CHECK(lazy_faults >= 1);
			CHECK(eager_faults < lazy_faults);
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow of the map faults in as read */
			CHECK_EQ_INT((int)eager_faults, 0);
#endif
		}
	}
	mrt_gguf_close(lazy);
	mrt_gguf_close(eager);
	unlink(path);
	mrt_gguf_writer_free(w);
	free(data);
}

static void test_writer_round_trip(uint32_t align)
{
	buf b = {0};
	small_layout lay;
	char err[256] = "", path[512];
	mrt_gguf *src, *g;
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	uint64_t i;

	build_small(&b, &lay);
	src = mrt_gguf_open_buffer(b.p, b.n, err, sizeof err);
	CHECK(src != NULL && w != NULL);
	if (src == NULL || w == NULL)
		return;
	if (align != 32)
		CHECK_EQ_INT(mrt_gguf_writer_set_u32(w, "general.alignment", align), 0);
	fill_writer(w, src);
	tmp_path(path, sizeof path, "round.gguf");
	CHECK_EQ_INT(mrt_gguf_writer_write(w, path, err, sizeof err), 0);
	g = mrt_gguf_open(path, err, sizeof err);
	CHECK(g != NULL);
	if (g == NULL) {
		fprintf(stderr, "written file refused: %s\n", err);
	} else {
		check_written(g, src, align, align != 32);
		CHECK_EQ_INT(mrt_gguf_populate(src), -1); /* a buffer, not a map */
		mrt_gguf_close(g);
	}
	for (i = 0; i < N_RT; i++) {
		free(rt_tensors[i].data);
		rt_tensors[i].data = NULL;
	}
	unlink(path);
	mrt_gguf_writer_free(w);
	mrt_gguf_close(src);
	free(b.p);
}

static void test_writer_refusals(void)
{
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	uint64_t ne[5] = {32, 2, 1, 1, 1}, ne33[1] = {33}, ne0[2] = {4, 0};
	unsigned char data[256] = {0};
	uint8_t bad_bool = 2;
	char err[256] = "", path[512];

	CHECK(w != NULL);
	if (w == NULL)
		return;
	CHECK_EQ_INT(mrt_gguf_writer_set_u32(w, "k", 1), 0);
	CHECK_EQ_INT(mrt_gguf_writer_set_str(w, "k", "again"), MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "b", MRT_GGUF_BOOL, &bad_bool, 1), MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "s", MRT_GGUF_STRING, data, 1), MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_set_arr(w, "big", MRT_GGUF_UINT64, data, UINT64_MAX / 4),
	             MRT_ERR_NOMEM);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "t", MRT_TYPE_F32, 2, ne, data), 0);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "t", MRT_TYPE_F32, 2, ne, data),
	             MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "u", MRT_TYPE_Q8_0, 1, ne33, data),
	             MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "u", MRT_TYPE_F32, 0, ne, data),
	             MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "u", MRT_TYPE_F32, 5, ne, data),
	             MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "u", MRT_TYPE_F32, 2, ne0, data),
	             MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "u", 4, 1, ne, data), MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt_gguf_writer_set_u32(w, "general.alignment", 48), 0);
	tmp_path(path, sizeof path, "refused.gguf");
	CHECK(mrt_gguf_writer_write(w, path, err, sizeof err) < 0);
	CHECK_STR_CONTAINS(err, "power of two");
	CHECK(access(path, F_OK) != 0);
	mrt_gguf_writer_free(w);

	w = mrt_gguf_writer_new();
	CHECK_EQ_INT(mrt_gguf_writer_set_u32(w, "k", 1), 0);
	tmp_path(path, sizeof path, "no/such/dir/x.gguf");
	CHECK_EQ_INT(mrt_gguf_writer_write(w, path, err, sizeof err), MRT_ERR_IO);
	CHECK_STR_CONTAINS(err, "x.gguf");
	mrt_gguf_writer_free(w);
}

/* ---- hostile files ---- */

static void test_hostile_header(void)
{
	buf b = {0};

	put(&b, "GGUX", 4), put_u32(&b, 3), put_u64(&b, 0), put_u64(&b, 0);
	EXPECT_REFUSED(&b, "bad magic", "at byte 0");
	b.n = 0, put_header(&b, 1, 0, 0);
	EXPECT_REFUSED(&b, "version 1", "at byte 4");
	b.n = 0, put_header(&b, 4, 0, 0);
	EXPECT_REFUSED(&b, "version 4");
	b.n = 0, put(&b, "GGUF\0\0\0\3", 8), put_u64(&b, 0), put_u64(&b, 0);
	EXPECT_REFUSED(&b, "big-endian", "at byte 4");
	b.n = 0, put_header(&b, 3, 0, 1ull << 62);
	EXPECT_REFUSED(&b, "key/value count 4611686018427387904");
	b.n = 0, put_header(&b, 3, UINT64_MAX, 0);
	EXPECT_REFUSED(&b, "tensor count 18446744073709551615", "at byte 8");
	b.n = 0, put(&b, "GG", 2);
	EXPECT_REFUSED(&b, "magic");
	b.n = 0, put_header(&b, 2, 0, 0); /* version 2 is read */
	{
		char err[128];
		mrt_gguf *g = mrt_gguf_open_buffer(b.p, b.n, err, sizeof err);
		CHECK(g != NULL && mrt_gguf_version(g) == 2);
		mrt_gguf_close(g);
	}
	free(b.p);
}

/* One key "k" of value type vt; the caller appends the value. */
static void one_key(buf *b, uint32_t vt)
{
	b->n = 0;
	put_header(b, 3, 0, 1);
	put_key(b, "k", vt);
}

static void test_hostile_values(void)
{
	buf b = {0};
	int d;

	one_key(&b, MRT_GGUF_STRING), put_u64(&b, 100), put(&b, "short", 5);
	EXPECT_REFUSED(&b, "string length 100", "past end of file", "at byte 37");
	one_key(&b, MRT_GGUF_STRING), put_u64(&b, 1ull << 63), put(&b, "x", 1);
	EXPECT_REFUSED(&b, "string length 9223372036854775808", "past end of file");
	b.n = 0, put_header(&b, 3, 0, 1), put_u64(&b, UINT64_MAX), put_u64(&b, 0);
	EXPECT_REFUSED(&b, "metadata key: string length 18446744073709551615", "at byte 24");
	b.n = 0, put_header(&b, 3, 0, 1), put_u64(&b, 0);
	EXPECT_REFUSED(&b, "key/value count 1 cannot fit in the 8 bytes left");
	one_key(&b, 13), put_u32(&b, 0);
	EXPECT_REFUSED(&b, "unknown value type 13", "at byte 33");
	one_key(&b, MRT_GGUF_BOOL), put_u8(&b, 2);
	EXPECT_REFUSED(&b, "bool value is 2", "at byte 37");
	one_key(&b, MRT_GGUF_ARRAY), put_u32(&b, MRT_GGUF_BOOL), put_u64(&b, 2);
	put_u8(&b, 1), put_u8(&b, 9);
	EXPECT_REFUSED(&b, "bool element 1", "at byte 50");
	one_key(&b, MRT_GGUF_ARRAY), put_u32(&b, MRT_GGUF_UINT64), put_u64(&b, (1ull << 61) + 1);
	put_u64(&b, 0);
	EXPECT_REFUSED(&b, "array of 2305843009213693953 elements", "does not fit");
	one_key(&b, MRT_GGUF_ARRAY), put_u32(&b, MRT_GGUF_STRING), put_u64(&b, UINT64_MAX);
	EXPECT_REFUSED(&b, "does not fit");
	one_key(&b, MRT_GGUF_ARRAY), put_u32(&b, 77), put_u64(&b, 0);
	EXPECT_REFUSED(&b, "unknown array element type 77");
	one_key(&b, MRT_GGUF_ARRAY); /* 9 levels of arrays */
	for (d = 0; d < 8; d++)
		put_u32(&b, MRT_GGUF_ARRAY), put_u64(&b, 1);
	put_u32(&b, MRT_GGUF_UINT8), put_u64(&b, 0);
	EXPECT_REFUSED(&b, "nested deeper than 8");
	one_key(&b, MRT_GGUF_ARRAY); /* 8 levels are fine */
	for (d = 0; d < 7; d++)
		put_u32(&b, MRT_GGUF_ARRAY), put_u64(&b, 1);
	put_u32(&b, MRT_GGUF_UINT8), put_u64(&b, 1), put_u8(&b, 5);
	{
		char err[128];
		mrt_gguf *g = mrt_gguf_open_buffer(b.p, b.n, err, sizeof err);
		CHECK(g != NULL);
		mrt_gguf_close(g);
	}
	b.n = 0, put_header(&b, 3, 0, 2);
	put_key(&b, "dup", MRT_GGUF_UINT8), put_u8(&b, 1);
	put_key(&b, "dup", MRT_GGUF_UINT8), put_u8(&b, 2);
	EXPECT_REFUSED(&b, "duplicate metadata key 'dup'", "at byte 40");
	b.n = 0, put_header(&b, 3, 0, 1);
	put_key(&b, "general.alignment", MRT_GGUF_UINT32), put_u32(&b, 0);
	EXPECT_REFUSED(&b, "general.alignment 0", "power of two");
	b.n -= 4, put_u32(&b, 24);
	EXPECT_REFUSED(&b, "general.alignment 24", "power of two");
	b.n -= 8, put_u32(&b, MRT_GGUF_UINT64), put_u64(&b, 32);
	EXPECT_REFUSED(&b, "general.alignment", "not uint32");
	free(b.p);
}

/* One tensor "t" with the given info and data_bytes bytes of data. */
static void one_tensor(buf *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                       size_t data_bytes)
{
	b->n = 0;
	put_header(b, 3, 1, 0);
	put_tensor_info(b, "t", n_dims, ne, type, offset);
	put_pad(b, 32);
	while (data_bytes--)
		put_u8(b, 0x5a);
}

static void test_hostile_tensors(void)
{
	buf b = {0};
	uint64_t ne[5] = {4, 2, 1, 1, 1}, big[2] = {1ull << 32, 1ull << 32};
	uint64_t q33[1] = {33}, zero[2] = {4, 0};
	int i;

	one_tensor(&b, 0, ne, MRT_TYPE_F32, 0, 32);
	EXPECT_REFUSED(&b, "n_dims is 0", "'t'");
	one_tensor(&b, 5, ne, MRT_TYPE_F32, 0, 32);
	EXPECT_REFUSED(&b, "n_dims is 5");
	one_tensor(&b, 2, big, MRT_TYPE_F32, 0, 32);
	EXPECT_REFUSED(&b, "element count overflows", "at byte 24");
	one_tensor(&b, 2, zero, MRT_TYPE_F32, 0, 32);
	EXPECT_REFUSED(&b, "dimension 1 is 0");
	one_tensor(&b, 2, ne, 99, 0, 32);
	EXPECT_REFUSED(&b, "unknown tensor type 99");
	one_tensor(&b, 2, ne, 4, 0, 32); /* a number ggml retired */
	EXPECT_REFUSED(&b, "unknown tensor type 4");
	one_tensor(&b, 1, q33, MRT_TYPE_Q8_0, 0, 64);
	EXPECT_REFUSED(&b, "ne[0] = 33", "block size 32");
	one_tensor(&b, 2, ne, MRT_TYPE_F32, 16, 64);
	EXPECT_REFUSED(&b, "offset 16", "alignment 32");
	one_tensor(&b, 2, ne, MRT_TYPE_F32, 64, 64);
	EXPECT_REFUSED(&b, "data [offset 64, 32 bytes] extends past end of file (160 bytes",
	               "at byte 24");
	one_tensor(&b, 2, ne, MRT_TYPE_F32, 0, 31);
	EXPECT_REFUSED(&b, "data [offset 0, 32 bytes] extends past end");
	/* offset + nbytes wraps to 0: a naive sum would accept it */
	one_tensor(&b, 2, ne, MRT_TYPE_F32, UINT64_MAX - 31, 32);
	EXPECT_REFUSED(&b, "offset 18446744073709551584", "extends past end");
	b.n = 0, put_header(&b, 3, 2, 0);
	put_tensor_info(&b, "same", 1, ne, MRT_TYPE_F32, 0);
	put_tensor_info(&b, "same", 1, ne, MRT_TYPE_F32, 32);
	put_pad(&b, 32);
	for (i = 0; i < 48; i++)
		put_u8(&b, 0);
	EXPECT_REFUSED(&b, "duplicate tensor name 'same'", "at byte 60");
	one_tensor(&b, 2, ne, MRT_TYPE_F32, 0, 32); /* the control: valid */
	{
		char err[128];
		mrt_gguf *g = mrt_gguf_open_buffer(b.p, b.n, err, sizeof err);
		CHECK(g != NULL);
		mrt_gguf_close(g);
	}
	free(b.p);
}

/* Every proper prefix of a valid file is refused; the whole file opens. */
static void test_truncations(void)
{
	buf b = {0};
	small_layout lay;
	char err[512];
	size_t len;
	int refused = 0, worded = 0;

	build_small(&b, &lay);
	for (len = 0; len <= b.n; len++) {
		unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
		mrt_gguf *g;

		memcpy(copy, b.p, len);
		err[0] = '\0';
		g = mrt_gguf_open_buffer(copy, len, err, sizeof err);
		if (len < b.n) {
			refused += g == NULL;
			worded += strstr(err, "gguf: at byte ") != NULL;
		} else {
			CHECK(g != NULL);
		}
		mrt_gguf_close(g);
		free(copy);
	}
	CHECK_EQ_INT(refused, b.n);
	CHECK_EQ_INT(worded, b.n);
	free(b.p);
}

/* Random byte flips of a valid file (fixed seed): never a crash, and what
 * opens can be walked through every accessor. */
static void test_mutations(int rounds)
{
	buf b = {0};
	small_layout lay;
	char err[512];
	int r, k, opened = 0;

	build_small(&b, &lay);
	for (r = 0; r < rounds; r++) {
		unsigned char *copy = malloc(b.n);
		int flips = 1 + (int)(rng() % 3);
		mrt_gguf *g;

		memcpy(copy, b.p, b.n);
		for (k = 0; k < flips; k++) {
			size_t at = (size_t)(rng() % b.n);
			copy[at] = (r & 1) ? (unsigned char)rng() : copy[at] ^ (1u << (rng() % 8));
		}
		g = mrt_gguf_open_buffer(copy, b.n, err, sizeof err);
		if (g != NULL) {
			opened++;
			(void)walk_file(g);
			mrt_gguf_close(g);
		} else {
			CHECK_STR_CONTAINS(err, "gguf: at byte ");
		}
		free(copy);
	}
	fprintf(stderr, "mutations: %d rounds, %d still valid\n", rounds, opened);
	CHECK(opened > 0 && opened < rounds);
	free(b.p);
}

/* ---- real files made by llama.cpp ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median time to open and close path (ms). */
static double time_open(const char *path)
{
	double t[9];
	char err[256];
	int i;

	for (i = 0; i < 9; i++) {
		double t0 = now_ms();
		mrt_gguf *g = mrt_gguf_open(path, err, sizeof err);
		t[i] = now_ms() - t0;
		mrt_gguf_close(g);
	}
	qsort(t, 9, sizeof t[0], cmp_double);
	return t[4];
}

/* Rewriting every key of a tensor-less file reproduces it byte for byte. */
static void check_rewrite_identical(const mrt_gguf *g, const char *path)
{
	char out[512], err[256];
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	FILE *a, *b;
	uint64_t i, same = 1, n = 0;
	int ca, cb;

	for (i = 0; i < mrt_gguf_n_kv(g); i++)
		CHECK_EQ_INT(mrt_gguf_writer_copy_kv(w, g, i), 0);
	tmp_path(out, sizeof out, "rewrite.gguf");
	CHECK_EQ_INT(mrt_gguf_writer_write(w, out, err, sizeof err), 0);
	mrt_gguf_writer_free(w);
	a = fopen(path, "rb");
	b = fopen(out, "rb");
	CHECK(a != NULL && b != NULL);
	if (a != NULL && b != NULL) {
		do {
			ca = getc(a), cb = getc(b), n++;
			same = ca == cb;
		} while (same && ca != EOF);
		CHECK(same);
		CHECK_EQ_INT(n - 1, mrt_gguf_file_size(g));
	}
	if (a)
		fclose(a);
	if (b)
		fclose(b);
	unlink(out);
}

/* Opens ../shared/vocab/<file>; NULL (with a note) when absent. */
static mrt_gguf *open_vocab(const char *file, char *path, size_t len)
{
	const char *top = getenv("top_srcdir");
	char err[512] = "";
	mrt_gguf *g;

	snprintf(path, len, "%s/../shared/vocab/%s", top ? top : ".", file);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "skipping checks of %s: not found\n", file);
		return NULL;
	}
	g = mrt_gguf_open(path, err, sizeof err);
	CHECK(g != NULL);
	if (g == NULL)
		fprintf(stderr, "%s refused: %s\n", file, err);
	return g;
}

static void check_vocab(const mrt_gguf *g, const char *model, uint64_t n_vocab,
                        const char *const *first3, uint64_t last_id, const char *last)
{
	mrt_gguf_value tokens, v;
	mrt_gguf_str s, *all;
	uint64_t i;

	CHECK(mrt_gguf_get_str(g, "tokenizer.ggml.model", &s) == 0 && mrt_gguf_str_eq(s, model));
	CHECK(mrt_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens) == 0);
	CHECK_EQ_INT(tokens.v.arr.n, n_vocab);
	CHECK_EQ_INT(tokens.v.arr.elem_type, MRT_GGUF_STRING);
	CHECK(mrt_gguf_get_arr(g, "tokenizer.ggml.token_type", &v) == 0 && v.v.arr.n == n_vocab);
	all = calloc(n_vocab, sizeof *all);
	CHECK(all != NULL && mrt_gguf_arr_strs(&tokens, all) == 0);
	for (i = 0; all != NULL && i < 3; i++)
		CHECK(mrt_gguf_str_eq(all[i], first3[i]));
	CHECK(all != NULL && mrt_gguf_str_eq(all[last_id], last));
	CHECK(mrt_gguf_arr_str(&tokens, last_id, &s) == 0 && mrt_gguf_str_eq(s, last));
	CHECK(mrt_gguf_arr_str(&tokens, n_vocab, &s) == -1);
	free(all);
}

static void test_real_files(void)
{
	static const char *const llama3[3] = {"<unk>", "<s>", "</s>"};
	static const char *const gpt3[3] = {"!", "\"", "#"};
	char path[1024];
	mrt_gguf *g;
	mrt_gguf_str s;
	mrt_gguf_value v;
	uint64_t u;

	g = open_vocab("ggml-vocab-llama-spm.gguf", path, sizeof path);
	if (g != NULL) {
		CHECK(mrt_gguf_get_str(g, "general.architecture", &s) == 0 &&
		      mrt_gguf_str_eq(s, "llama"));
		check_vocab(g, "llama", 32000, llama3, 29871, "\xe2\x96\x81");
		CHECK(mrt_gguf_get_arr(g, "tokenizer.ggml.scores", &v) == 0 &&
		      v.v.arr.elem_type == MRT_GGUF_FLOAT32 && v.v.arr.n == 32000);
		CHECK(mrt_gguf_get_u64(g, "tokenizer.ggml.bos_token_id", &u) == 0 && u == 1);
		CHECK_EQ_INT(mrt_gguf_n_tensors(g), 0);
		check_rewrite_identical(g, path);
		mrt_gguf_close(g);
		fprintf(stderr, "open llama-spm vocab (%s): %.3f ms median of 9\n", "724 KB",
		        time_open(path));
	}
	g = open_vocab("ggml-vocab-gpt-2.gguf", path, sizeof path);
	if (g != NULL) {
		check_vocab(g, "gpt2", 50257, gpt3, 50256, "<|endoftext|>");
		CHECK(mrt_gguf_get_arr(g, "tokenizer.ggml.merges", &v) == 0 &&
		      v.v.arr.elem_type == MRT_GGUF_STRING && v.v.arr.n == 50000);
		check_rewrite_identical(g, path);
		mrt_gguf_close(g);
		fprintf(stderr, "open gpt-2 vocab (%s): %.3f ms median of 9\n", "1.7 MB",
		        time_open(path));
	}
}

static void test_open_errors(void)
{
	char err[512] = "", path[512];
	FILE *f;

	CHECK(mrt_gguf_open("/nonexistent/model.gguf", err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "cannot read '/nonexistent/model.gguf'");
	tmp_path(path, sizeof path, "empty.gguf");
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(mrt_gguf_open(path, err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "empty");
	unlink(path);
	CHECK(mrt_gguf_open(tmpdir, err, sizeof err) == NULL);
	CHECK_STR_CONTAINS(err, "not a regular file");
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/test_gguf.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_small_values();
	test_writer_round_trip(32);
	test_writer_round_trip(64);
	test_writer_refusals();
	test_populate();
	test_hostile_header();
	test_hostile_values();
	test_hostile_tensors();
	test_truncations();
	test_mutations(4000);
	test_open_errors();
	test_real_files();
	rmdir(tmpdir);
	TEST_END();
}
