/* GGUF v2/v3 reader: maps a file read-only (or borrows a buffer), validates
 * every field once at open, and then serves keys, values and tensors that
 * point into the map. Lookups by name go through hash indexes built at open.
 * Nothing is read through a cast pointer: multi-byte fields use memcpy. */
#include "mrt.h"
#include "mrt_gguf.h"
#include "gguf_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

#define GGUF_MAX_DEPTH 8 /* nesting of arrays inside a value */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MIN_KV_BYTES 13     /* key length (8) + value type (4) + a u8 value (1) */
#define GGUF_MIN_TENSOR_BYTES 32 /* name length + n_dims + ne[0] + type + offset */

typedef struct gguf_kv {
	mrt_gguf_str key;
	mrt_gguf_value val;
} gguf_kv;

/* Open-addressing hash of names: slots hold index + 1, 0 is empty. */
typedef struct gguf_index {
	uint32_t *slots;
	uint64_t mask;
	uint64_t seed; /* per handle, so colliding names cannot be prepared */
} gguf_index;

struct mrt_gguf {
	const unsigned char *base;
	uint64_t size;
	int mapped; /* 1: base is our mmap of size bytes */
	uint32_t version;
	uint32_t alignment;
	uint64_t n_kv;
	uint64_t n_tensors;
	uint64_t data_start; /* offset of the data section in the file */
	gguf_kv *kvs;
	mrt_gguf_tensor_info *tensors;
	gguf_index kv_index;
	gguf_index tensor_index;
};

/* A bounds-checked reader over the file. The first error sticks in err. */
typedef struct gguf_cursor {
	const unsigned char *base;
	uint64_t size;
	uint64_t pos;
	char *err;
	size_t errlen;
} gguf_cursor;

static int gguf__fail(gguf_cursor *c, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "gguf: <message> (at byte N)"-style text; always returns -1. The
 * message itself should say what was being read; the byte offset is added. */
static int gguf__fail(gguf_cursor *c, uint64_t at, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (c->err == NULL || c->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "gguf: at byte %llu: %s", (unsigned long long)at, msg);
	return -1;
}

static uint64_t gguf__remaining(const gguf_cursor *c)
{
	return c->size - c->pos;
}

static int gguf__need(gguf_cursor *c, uint64_t n, const char *what)
{
	if (n > gguf__remaining(c))
		return gguf__fail(c, c->pos, "%s: needs %llu bytes, only %llu left in file", what,
		                  (unsigned long long)n, (unsigned long long)gguf__remaining(c));
	return 0;
}

static int gguf__u32(gguf_cursor *c, uint32_t *out, const char *what)
{
	if (gguf__need(c, 4, what) < 0)
		return -1;
	memcpy(out, c->base + c->pos, 4);
	c->pos += 4;
	return 0;
}

static int gguf__u64(gguf_cursor *c, uint64_t *out, const char *what)
{
	if (gguf__need(c, 8, what) < 0)
		return -1;
	memcpy(out, c->base + c->pos, 8);
	c->pos += 8;
	return 0;
}

/* A string: u64 length then the bytes, which must lie inside the file. */
static int gguf__str(gguf_cursor *c, mrt_gguf_str *out, const char *what)
{
	uint64_t at = c->pos, len;

	if (gguf__u64(c, &len, what) < 0)
		return -1;
	if (len > gguf__remaining(c))
		return gguf__fail(c, at,
		                  "%s: string length %llu extends past end of file "
		                  "(%llu bytes left)",
		                  what, (unsigned long long)len,
		                  (unsigned long long)gguf__remaining(c));
	out->len = len;
	out->ptr = (const char *)(c->base + c->pos);
	c->pos += len;
	return 0;
}

/* See gguf_impl.h. */
int mrt__gguf_scalar_size(uint32_t vt)
{
	switch (vt) {
	case MRT_GGUF_UINT8:
	case MRT_GGUF_INT8:
	case MRT_GGUF_BOOL:
		return 1;
	case MRT_GGUF_UINT16:
	case MRT_GGUF_INT16:
		return 2;
	case MRT_GGUF_UINT32:
	case MRT_GGUF_INT32:
	case MRT_GGUF_FLOAT32:
		return 4;
	case MRT_GGUF_UINT64:
	case MRT_GGUF_INT64:
	case MRT_GGUF_FLOAT64:
		return 8;
	case MRT_GGUF_STRING:
	case MRT_GGUF_ARRAY:
		return 0;
	default:
		return -1;
	}
}

/* Decodes the scalar of type vt at p into val (type already known valid). */
static void gguf__decode_scalar(uint32_t vt, const unsigned char *p, mrt_gguf_value *val)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	float f32;

	val->type = (int)vt;
	switch (vt) {
	case MRT_GGUF_UINT8:
		val->v.u64 = p[0];
		break;
	case MRT_GGUF_INT8:
		memcpy(&u8, p, 1);
		val->v.i64 = (int8_t)u8;
		break;
	case MRT_GGUF_BOOL:
		val->v.b = p[0];
		break;
	case MRT_GGUF_UINT16:
		memcpy(&u16, p, 2);
		val->v.u64 = u16;
		break;
	case MRT_GGUF_INT16:
		memcpy(&u16, p, 2);
		val->v.i64 = (int16_t)u16;
		break;
	case MRT_GGUF_UINT32:
		memcpy(&u32, p, 4);
		val->v.u64 = u32;
		break;
	case MRT_GGUF_INT32:
		memcpy(&u32, p, 4);
		val->v.i64 = (int32_t)u32;
		break;
	case MRT_GGUF_FLOAT32:
		memcpy(&f32, p, 4);
		val->v.f64 = f32;
		break;
	case MRT_GGUF_UINT64:
		memcpy(&u64, p, 8);
		val->v.u64 = u64;
		break;
	case MRT_GGUF_INT64:
		memcpy(&u64, p, 8);
		val->v.i64 = (int64_t)u64;
		break;
	case MRT_GGUF_FLOAT64:
		memcpy(&val->v.f64, p, 8);
		break;
	default:
		break;
	}
}

static int gguf__value(gguf_cursor *c, uint32_t vt, int depth, mrt_gguf_value *val,
                       const char *what);

/* The body of an array (element type, count, elements) starting at the
 * cursor; fills val->v.arr. Nested arrays are validated recursively up to
 * GGUF_MAX_DEPTH levels. Counts are checked against the bytes left before
 * any loop, so absurd counts fail at once. */
static int gguf__array(gguf_cursor *c, int depth, mrt_gguf_value *val, const char *what)
{
	uint64_t at = c->pos, n, i, min_elem;
	uint32_t et;
	int esize;
	mrt_gguf_value sub;

	if (depth > GGUF_MAX_DEPTH)
		return gguf__fail(c, at, "%s: arrays nested deeper than %d levels", what,
		                  GGUF_MAX_DEPTH);
	if (gguf__u32(c, &et, what) < 0 || gguf__u64(c, &n, what) < 0)
		return -1;
	esize = mrt__gguf_scalar_size(et);
	if (esize < 0)
		return gguf__fail(c, at, "%s: unknown array element type %u", what, et);
	val->type = MRT_GGUF_ARRAY;
	val->v.arr.elem_type = (int)et;
	val->v.arr.n = n;
	val->v.arr.data = c->base + c->pos;
	min_elem = esize > 0 ? (uint64_t)esize : et == MRT_GGUF_STRING ? 8 : 12;
	if (n > gguf__remaining(c) / min_elem)
		return gguf__fail(c, at,
		                  "%s: array of %llu elements of type %u (at least %llu "
		                  "bytes each) does not fit in the %llu bytes left",
		                  what, (unsigned long long)n, et, (unsigned long long)min_elem,
		                  (unsigned long long)gguf__remaining(c));
	if (esize > 0) {
		if (et == MRT_GGUF_BOOL) {
			for (i = 0; i < n; i++)
				if (c->base[c->pos + i] > 1)
					return gguf__fail(c, c->pos + i,
					                  "%s: bool element %llu is %u, not 0 or 1",
					                  what, (unsigned long long)i,
					                  c->base[c->pos + i]);
		}
		c->pos += n * (uint64_t)esize; /* no overflow: checked above */
	} else {
		for (i = 0; i < n; i++) {
			if (et == MRT_GGUF_STRING) {
				if (gguf__str(c, &sub.v.str, what) < 0)
					return -1;
			} else if (gguf__array(c, depth + 1, &sub, what) < 0) {
				return -1;
			}
		}
	}
	val->v.arr.nbytes = (uint64_t)(c->base + c->pos - val->v.arr.data);
	return 0;
}

/* A value of type vt at the cursor (depth: nesting level of the enclosing
 * arrays). Scalars are decoded, bools must be 0 or 1. */
static int gguf__value(gguf_cursor *c, uint32_t vt, int depth, mrt_gguf_value *val,
                       const char *what)
{
	uint64_t at = c->pos;
	int size = mrt__gguf_scalar_size(vt);

	if (size < 0)
		return gguf__fail(c, at - 4, "%s: unknown value type %u", what, vt);
	if (vt == MRT_GGUF_STRING) {
		val->type = MRT_GGUF_STRING;
		return gguf__str(c, &val->v.str, what);
	}
	if (vt == MRT_GGUF_ARRAY)
		return gguf__array(c, depth + 1, val, what);
	if (gguf__need(c, (uint64_t)size, what) < 0)
		return -1;
	if (vt == MRT_GGUF_BOOL && c->base[c->pos] > 1)
		return gguf__fail(c, at, "%s: bool value is %u, not 0 or 1", what, c->base[c->pos]);
	gguf__decode_scalar(vt, c->base + c->pos, val);
	c->pos += (uint64_t)size;
	return 0;
}

/* ---- name index ---- */

static uint64_t gguf__hash(uint64_t seed, const char *p, uint64_t len)
{
	uint64_t h = 1469598103934665603ull ^ seed; /* FNV-1a, seeded */
	uint64_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int gguf__str_same(mrt_gguf_str a, const char *p, uint64_t len)
{
	return a.len == len && (len == 0 || memcmp(a.ptr, p, len) == 0);
}

/* Allocates the slots for n names (n is bounded by the file size). */
static int gguf__index_init(gguf_index *ix, uint64_t n)
{
	uint64_t cap = 16;

	while (cap < 2 * n)
		cap <<= 1;
	ix->slots = calloc(cap, sizeof *ix->slots);
	if (ix->slots == NULL)
		return -1;
	ix->mask = cap - 1;
	if (getrandom(&ix->seed, sizeof ix->seed, GRND_NONBLOCK) != sizeof ix->seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ix->seed =
		    (uint64_t)(uintptr_t)ix->slots * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_nsec;
	}
	return 0;
}

/* Finds name in the index; names(i) gives the name of entry i. Returns the
 * entry index or -1; *slot (OUT) gets the slot where it is or would go. */
static int64_t gguf__index_find(const gguf_index *ix, const void *owner,
                                mrt_gguf_str (*name_of)(const void *, uint64_t), const char *p,
                                uint64_t len, uint64_t *slot)
{
	uint64_t s = gguf__hash(ix->seed, p, len) & ix->mask;

	while (ix->slots[s] != 0) {
		uint64_t i = ix->slots[s] - 1;
		if (gguf__str_same(name_of(owner, i), p, len)) {
			*slot = s;
			return (int64_t)i;
		}
		s = (s + 1) & ix->mask;
	}
	*slot = s;
	return -1;
}

static mrt_gguf_str gguf__kv_name(const void *owner, uint64_t i)
{
	return ((const mrt_gguf *)owner)->kvs[i].key;
}

static mrt_gguf_str gguf__tensor_name(const void *owner, uint64_t i)
{
	return ((const mrt_gguf *)owner)->tensors[i].name;
}

/* A printable copy of a file string for messages (truncated, non-printable
 * bytes replaced). */
static const char *gguf__printable(mrt_gguf_str s, char *buf, size_t buflen)
{
	size_t i, n = s.len < buflen - 1 ? (size_t)s.len : buflen - 1;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s.ptr[i];
		buf[i] = ch >= 32 && ch < 127 && ch != '\'' ? (char)ch : '?';
	}
	buf[n] = '\0';
	return buf;
}

/* ---- header, metadata, tensor infos ---- */

static int gguf__parse_header(gguf_cursor *c, mrt_gguf *g)
{
	uint32_t version;

	if (gguf__need(c, 4, "magic") < 0)
		return -1;
	if (memcmp(c->base, "GGUF", 4) != 0)
		return gguf__fail(c, 0, "bad magic %02x %02x %02x %02x, not a GGUF file",
		                  c->base[0], c->base[1], c->base[2], c->base[3]);
	c->pos = 4;
	if (gguf__u32(c, &version, "version") < 0)
		return -1;
	if ((version & 0xffffu) == 0 && version != 0)
		return gguf__fail(c, 4,
		                  "version field 0x%08x looks byte-swapped: big-endian "
		                  "GGUF files are not supported",
		                  version);
	if (version != 2 && version != 3)
		return gguf__fail(c, 4, "unsupported GGUF version %u (only 2 and 3 are read)",
		                  version);
	g->version = version;
	if (gguf__u64(c, &g->n_tensors, "tensor count") < 0 ||
	    gguf__u64(c, &g->n_kv, "metadata key/value count") < 0)
		return -1;
	if (g->n_kv > gguf__remaining(c) / GGUF_MIN_KV_BYTES || g->n_kv > UINT32_MAX - 1)
		return gguf__fail(c, 16,
		                  "metadata key/value count %llu cannot fit in the %llu "
		                  "bytes left",
		                  (unsigned long long)g->n_kv,
		                  (unsigned long long)gguf__remaining(c));
	if (g->n_tensors > gguf__remaining(c) / GGUF_MIN_TENSOR_BYTES ||
	    g->n_tensors > UINT32_MAX - 1)
		return gguf__fail(c, 8, "tensor count %llu cannot fit in the %llu bytes left",
		                  (unsigned long long)g->n_tensors,
		                  (unsigned long long)gguf__remaining(c));
	return 0;
}

/* Reads every key/value, refusing duplicates, and takes general.alignment. */
static int gguf__parse_kvs(gguf_cursor *c, mrt_gguf *g)
{
	uint64_t i, slot;
	char name[96];

	g->kvs = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kvs);
	if (g->kvs == NULL || gguf__index_init(&g->kv_index, g->n_kv) < 0)
		return gguf__fail(c, c->pos, "out of memory for %llu keys",
		                  (unsigned long long)g->n_kv);
	for (i = 0; i < g->n_kv; i++) {
		gguf_kv *kv = &g->kvs[i];
		uint64_t at = c->pos;
		uint32_t vt;

		if (gguf__str(c, &kv->key, "metadata key") < 0)
			return -1;
		gguf__printable(kv->key, name, sizeof name);
		if (gguf__index_find(&g->kv_index, g, gguf__kv_name, kv->key.ptr, kv->key.len,
		                     &slot) >= 0)
			return gguf__fail(c, at, "duplicate metadata key '%s'", name);
		if (gguf__u32(c, &vt, "metadata value type") < 0)
			return -1;
		if (gguf__value(c, vt, 0, &kv->val, name) < 0)
			return -1;
		g->kv_index.slots[slot] = (uint32_t)(i + 1);
		if (mrt_gguf_str_eq(kv->key, "general.alignment")) {
			if (vt != MRT_GGUF_UINT32)
				return gguf__fail(c, at,
				                  "general.alignment has value type %u, "
				                  "not uint32",
				                  vt);
			if (kv->val.v.u64 == 0 || (kv->val.v.u64 & (kv->val.v.u64 - 1)) != 0)
				return gguf__fail(c, at,
				                  "general.alignment %llu is not a "
				                  "nonzero power of two",
				                  (unsigned long long)kv->val.v.u64);
			g->alignment = (uint32_t)kv->val.v.u64;
		}
	}
	return 0;
}

/* Shape and type of one tensor info: n_dims 1..4, each ne >= 1 (empty
 * tensors are refused), element count overflow-checked, a known type with
 * ne[0] a whole number of blocks. Fills t->nbytes. */
static int gguf__check_shape(gguf_cursor *c, uint64_t at, mrt_gguf_tensor_info *t, const char *name)
{
	uint64_t nelem = 1;
	uint32_t d;
	mrt_type_info ti = mrt_type_get(t->type);

	if (ti.block_elems == 0)
		return gguf__fail(c, at, "tensor '%s': unknown tensor type %d", name, t->type);
	for (d = 0; d < t->n_dims; d++) {
		if (t->ne[d] == 0)
			return gguf__fail(c, at,
			                  "tensor '%s': dimension %u is 0 (empty tensors "
			                  "are not supported)",
			                  name, d);
		if (t->ne[d] > INT64_MAX / nelem)
			return gguf__fail(c, at,
			                  "tensor '%s': element count overflows "
			                  "(dimension %u is %llu)",
			                  name, d, (unsigned long long)t->ne[d]);
		nelem *= t->ne[d];
	}
	if (t->ne[0] % ti.block_elems != 0)
		return gguf__fail(c, at,
		                  "tensor '%s': ne[0] = %llu is not a multiple of the "
		                  "%s block size %zu",
		                  name, (unsigned long long)t->ne[0], ti.name ? ti.name : "?",
		                  ti.block_elems);
	if (mrt_type_nbytes(t->type, nelem, &t->nbytes) < 0)
		return gguf__fail(c, at,
		                  "tensor '%s': byte size of %llu %s elements "
		                  "overflows",
		                  name, (unsigned long long)nelem, ti.name ? ti.name : "?");
	return 0;
}

/* Reads one tensor info (at[i] gets its byte position for later messages). */
static int gguf__parse_tensor_info(gguf_cursor *c, mrt_gguf *g, uint64_t i, uint64_t *at)
{
	mrt_gguf_tensor_info *t = &g->tensors[i];
	uint64_t slot;
	uint32_t d, type;
	char name[96];

	*at = c->pos;
	if (gguf__str(c, &t->name, "tensor name") < 0)
		return -1;
	gguf__printable(t->name, name, sizeof name);
	if (gguf__index_find(&g->tensor_index, g, gguf__tensor_name, t->name.ptr, t->name.len,
	                     &slot) >= 0)
		return gguf__fail(c, *at, "duplicate tensor name '%s'", name);
	g->tensor_index.slots[slot] = (uint32_t)(i + 1);
	if (gguf__u32(c, &t->n_dims, name) < 0)
		return -1;
	if (t->n_dims < 1 || t->n_dims > 4)
		return gguf__fail(c, c->pos - 4, "tensor '%s': n_dims is %u, not 1..4", name,
		                  t->n_dims);
	for (d = 0; d < 4; d++)
		t->ne[d] = 1;
	for (d = 0; d < t->n_dims; d++)
		if (gguf__u64(c, &t->ne[d], name) < 0)
			return -1;
	if (gguf__u32(c, &type, name) < 0)
		return -1;
	if (type >= MRT_TYPE_COUNT)
		return gguf__fail(c, c->pos - 4, "tensor '%s': unknown tensor type %u", name, type);
	t->type = (int)type;
	if (gguf__check_shape(c, *at, t, name) < 0)
		return -1;
	if (gguf__u64(c, &t->offset, name) < 0)
		return -1;
	if (t->offset % g->alignment != 0)
		return gguf__fail(c, c->pos - 8,
		                  "tensor '%s': data offset %llu is not a multiple "
		                  "of the alignment %u",
		                  name, (unsigned long long)t->offset, g->alignment);
	return 0;
}

/* After the infos: the data section starts at the next multiple of the
 * alignment; every tensor's bytes must lie inside the file. */
static int gguf__check_data(gguf_cursor *c, mrt_gguf *g, const uint64_t *at)
{
	uint64_t i, data_size;
	char name[96];

	g->data_start = c->pos + (g->alignment - c->pos % g->alignment) % g->alignment;
	if (g->n_tensors == 0)
		return 0; /* the data section (and its padding) may be absent */
	if (g->data_start > c->size)
		return gguf__fail(c, c->pos,
		                  "padding before the data section (to byte %llu) "
		                  "extends past end of file (%llu bytes)",
		                  (unsigned long long)g->data_start, (unsigned long long)c->size);
	data_size = c->size - g->data_start;
	for (i = 0; i < g->n_tensors; i++) {
		mrt_gguf_tensor_info *t = &g->tensors[i];

		gguf__printable(t->name, name, sizeof name);
		if (t->offset > data_size || t->nbytes > data_size - t->offset)
			return gguf__fail(
			    c, at[i],
			    "tensor '%s': data [offset %llu, %llu bytes] "
			    "extends past end of file (%llu bytes, data section "
			    "at byte %llu)",
			    name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
			    (unsigned long long)c->size, (unsigned long long)g->data_start);
		t->data = c->base + g->data_start + t->offset;
	}
	return 0;
}

static int gguf__parse(gguf_cursor *c, mrt_gguf *g)
{
	uint64_t *at = NULL, i;
	int rc = -1;

	if (gguf__parse_header(c, g) < 0 || gguf__parse_kvs(c, g) < 0)
		return -1;
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
	at = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *at);
	if (g->tensors == NULL || at == NULL ||
	    gguf__index_init(&g->tensor_index, g->n_tensors) < 0) {
		gguf__fail(c, c->pos, "out of memory for %llu tensors",
		           (unsigned long long)g->n_tensors);
		goto out;
	}
	for (i = 0; i < g->n_tensors; i++)
		if (gguf__parse_tensor_info(c, g, i, &at[i]) < 0)
			goto out;
	rc = gguf__check_data(c, g, at);
out:
	free(at);
	return rc;
}

/* ---- open / close ---- */

static mrt_gguf *gguf__open_mem(const void *buf, size_t len, int mapped, char *err, size_t errlen)
{
	mrt_gguf *g = calloc(1, sizeof *g);
	gguf_cursor c = {buf, len, 0, err, errlen};

	if (g == NULL) {
		gguf__fail(&c, 0, "out of memory");
		return NULL;
	}
	g->base = buf;
	g->size = len;
	g->mapped = mapped;
	g->alignment = GGUF_DEFAULT_ALIGNMENT;
	if (buf == NULL && len != 0) {
		gguf__fail(&c, 0, "NULL buffer");
		goto fail;
	}
	if (gguf__parse(&c, g) < 0)
		goto fail;
	return g;
fail:
	g->mapped = 0; /* the caller still owns the map on failure */
	mrt_gguf_close(g);
	return NULL;
}

mrt_gguf *mrt_gguf_open_buffer(const void *buf, size_t len, char *err, size_t errlen)
{
	return gguf__open_mem(buf, len, 0, err, errlen);
}

mrt_gguf *mrt_gguf_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *map;
	mrt_gguf *g;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto io_error;
	if (fstat(fd, &st) < 0)
		goto io_error_fd;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "gguf: '%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "gguf: '%s' is empty (0 bytes), not a GGUF file", path);
		close(fd);
		return NULL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		goto io_error_fd;
	close(fd);
	g = gguf__open_mem(map, (size_t)st.st_size, 1, err, errlen);
	if (g == NULL)
		munmap(map, (size_t)st.st_size);
	return g;
io_error_fd:
	saved = errno;
	close(fd);
	errno = saved;
io_error:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "gguf: cannot read '%s': %s", path, strerror(errno));
	return NULL;
}

void mrt_gguf_close(mrt_gguf *g)
{
	if (g == NULL)
		return;
	if (g->mapped)
		munmap((void *)g->base, (size_t)g->size);
	free(g->kv_index.slots);
	free(g->tensor_index.slots);
	free(g->kvs);
	free(g->tensors);
	free(g);
}

/* ---- accessors ---- */

uint32_t mrt_gguf_version(const mrt_gguf *g)
{
	return g->version;
}

int mrt_gguf_populate(const mrt_gguf *g)
{
	if (!g->mapped)
		return -1;
	return madvise((void *)g->base, (size_t)g->size, MADV_POPULATE_READ) == 0 ? 0 : -1;
}

int mrt_gguf_is_mapped(const mrt_gguf *g)
{
	return g->mapped;
}

/* The pages of [p, p + n) in g's map: covering (out = 1) or inside. */
static int map_pages(const mrt_gguf *g, const void *p, uint64_t n, int out, char **a, size_t *len)
{
	uintptr_t base = (uintptr_t)g->base, at = (uintptr_t)p;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	if (!g->mapped || at < base || at - base > g->size || n > g->size - (at - base))
		return -1;
	uintptr_t lo = out ? at & ~(page - 1) : (at + page - 1) & ~(page - 1);
	uintptr_t hi = out ? (at + n + page - 1) & ~(page - 1) : (at + n) & ~(page - 1);
	*a = (char *)lo;
	*len = hi > lo ? (size_t)(hi - lo) : 0;
	return 0;
}

int mrt_gguf_populate_range(const mrt_gguf *g, const void *p, uint64_t n)
{
	char *a;
	size_t len;
	if (map_pages(g, p, n, 1, &a, &len) != 0)
		return -1;
	return len == 0 || madvise(a, len, MADV_POPULATE_READ) == 0 ? 0 : -1;
}

int mrt_gguf_drop_range(const mrt_gguf *g, const void *p, uint64_t n)
{
	char *a;
	size_t len;
	if (map_pages(g, p, n, 0, &a, &len) != 0)
		return -1;
	return len == 0 || madvise(a, len, MADV_DONTNEED) == 0 ? 0 : -1;
}

uint64_t mrt_gguf_file_size(const mrt_gguf *g)
{
	return g->size;
}

uint32_t mrt_gguf_alignment(const mrt_gguf *g)
{
	return g->alignment;
}

uint64_t mrt_gguf_n_kv(const mrt_gguf *g)
{
	return g->n_kv;
}

uint64_t mrt_gguf_n_tensors(const mrt_gguf *g)
{
	return g->n_tensors;
}

int mrt_gguf_kv(const mrt_gguf *g, uint64_t i, mrt_gguf_str *key, mrt_gguf_value *val)
{
	if (g == NULL || i >= g->n_kv)
		return -1;
	if (key != NULL)
		*key = g->kvs[i].key;
	if (val != NULL)
		*val = g->kvs[i].val;
	return 0;
}

int64_t mrt_gguf_find_kv(const mrt_gguf *g, const char *key)
{
	uint64_t slot;

	if (g == NULL || key == NULL)
		return -1;
	return gguf__index_find(&g->kv_index, g, gguf__kv_name, key, strlen(key), &slot);
}

static const mrt_gguf_value *gguf__get(const mrt_gguf *g, const char *key)
{
	int64_t i = mrt_gguf_find_kv(g, key);

	return i < 0 ? NULL : &g->kvs[i].val;
}

static int gguf__is_unsigned(int t)
{
	return t == MRT_GGUF_UINT8 || t == MRT_GGUF_UINT16 || t == MRT_GGUF_UINT32 ||
	       t == MRT_GGUF_UINT64;
}

static int gguf__is_signed(int t)
{
	return t == MRT_GGUF_INT8 || t == MRT_GGUF_INT16 || t == MRT_GGUF_INT32 ||
	       t == MRT_GGUF_INT64;
}

int mrt_gguf_get_u64(const mrt_gguf *g, const char *key, uint64_t *out)
{
	const mrt_gguf_value *v = gguf__get(g, key);

	if (v == NULL)
		return -1;
	if (gguf__is_unsigned(v->type)) {
		*out = v->v.u64;
		return 0;
	}
	if (gguf__is_signed(v->type) && v->v.i64 >= 0) {
		*out = (uint64_t)v->v.i64;
		return 0;
	}
	return -1;
}

int mrt_gguf_get_i64(const mrt_gguf *g, const char *key, int64_t *out)
{
	const mrt_gguf_value *v = gguf__get(g, key);

	if (v == NULL)
		return -1;
	if (gguf__is_signed(v->type)) {
		*out = v->v.i64;
		return 0;
	}
	if (gguf__is_unsigned(v->type) && v->v.u64 <= (uint64_t)INT64_MAX) {
		*out = (int64_t)v->v.u64;
		return 0;
	}
	return -1;
}

/* Accepts float32 and float64 values (the latter rounded to float). */
int mrt_gguf_get_f32(const mrt_gguf *g, const char *key, float *out)
{
	const mrt_gguf_value *v = gguf__get(g, key);

	if (v == NULL || (v->type != MRT_GGUF_FLOAT32 && v->type != MRT_GGUF_FLOAT64))
		return -1;
	*out = (float)v->v.f64;
	return 0;
}

int mrt_gguf_get_str(const mrt_gguf *g, const char *key, mrt_gguf_str *out)
{
	const mrt_gguf_value *v = gguf__get(g, key);

	if (v == NULL || v->type != MRT_GGUF_STRING)
		return -1;
	*out = v->v.str;
	return 0;
}

int mrt_gguf_get_arr(const mrt_gguf *g, const char *key, mrt_gguf_value *out)
{
	const mrt_gguf_value *v = gguf__get(g, key);

	if (v == NULL || v->type != MRT_GGUF_ARRAY)
		return -1;
	*out = *v;
	return 0;
}

/* A cursor over an array's element bytes (bounds-checked again, so a
 * forged value cannot read outside what it claims). */
static gguf_cursor gguf__arr_cursor(const mrt_gguf_value *arr)
{
	gguf_cursor c = {arr->v.arr.data, arr->v.arr.nbytes, 0, NULL, 0};
	return c;
}

int mrt_gguf_arr_str(const mrt_gguf_value *arr, uint64_t i, mrt_gguf_str *out)
{
	gguf_cursor c;
	uint64_t k;

	if (arr == NULL || arr->type != MRT_GGUF_ARRAY || arr->v.arr.elem_type != MRT_GGUF_STRING ||
	    i >= arr->v.arr.n)
		return -1;
	c = gguf__arr_cursor(arr);
	for (k = 0; k <= i; k++)
		if (gguf__str(&c, out, "") < 0)
			return -1;
	return 0;
}

int mrt_gguf_arr_strs(const mrt_gguf_value *arr, mrt_gguf_str *out)
{
	gguf_cursor c;
	uint64_t k;

	if (arr == NULL || arr->type != MRT_GGUF_ARRAY || arr->v.arr.elem_type != MRT_GGUF_STRING)
		return -1;
	c = gguf__arr_cursor(arr);
	for (k = 0; k < arr->v.arr.n; k++)
		if (gguf__str(&c, &out[k], "") < 0)
			return -1;
	return 0;
}

int mrt_gguf_arr_sub(const mrt_gguf_value *arr, uint64_t i, mrt_gguf_value *out)
{
	gguf_cursor c;
	uint64_t k;

	if (arr == NULL || arr->type != MRT_GGUF_ARRAY || arr->v.arr.elem_type != MRT_GGUF_ARRAY ||
	    i >= arr->v.arr.n)
		return -1;
	c = gguf__arr_cursor(arr);
	for (k = 0; k <= i; k++)
		if (gguf__array(&c, 1, out, "") < 0)
			return -1;
	return 0;
}

int mrt_gguf_arr_i64(const mrt_gguf_value *arr, uint64_t i, int64_t *out)
{
	mrt_gguf_value v;
	int et, size;

	if (arr == NULL || arr->type != MRT_GGUF_ARRAY || i >= arr->v.arr.n)
		return -1;
	et = arr->v.arr.elem_type;
	if (!gguf__is_signed(et) && !gguf__is_unsigned(et))
		return -1;
	size = mrt__gguf_scalar_size((uint32_t)et);
	if (i >= arr->v.arr.nbytes / (uint64_t)size)
		return -1;
	gguf__decode_scalar((uint32_t)et, arr->v.arr.data + i * (uint64_t)size, &v);
	if (gguf__is_unsigned(et)) {
		if (v.v.u64 > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)v.v.u64;
	} else {
		*out = v.v.i64;
	}
	return 0;
}

int mrt_gguf_arr_f64(const mrt_gguf_value *arr, uint64_t i, double *out)
{
	mrt_gguf_value v;
	int et;
	uint64_t size;

	if (arr == NULL || arr->type != MRT_GGUF_ARRAY || i >= arr->v.arr.n)
		return -1;
	et = arr->v.arr.elem_type;
	if (et != MRT_GGUF_FLOAT32 && et != MRT_GGUF_FLOAT64)
		return -1;
	size = et == MRT_GGUF_FLOAT32 ? 4 : 8;
	if (i >= arr->v.arr.nbytes / size)
		return -1;
	gguf__decode_scalar((uint32_t)et, arr->v.arr.data + i * size, &v);
	*out = v.v.f64;
	return 0;
}

int mrt_gguf_tensor(const mrt_gguf *g, uint64_t i, mrt_gguf_tensor_info *info)
{
	if (g == NULL || i >= g->n_tensors)
		return -1;
	*info = g->tensors[i];
	return 0;
}

int64_t mrt_gguf_find_tensor(const mrt_gguf *g, const char *name)
{
	uint64_t slot;

	if (g == NULL || name == NULL)
		return -1;
	return gguf__index_find(&g->tensor_index, g, gguf__tensor_name, name, strlen(name), &slot);
}

int mrt_gguf_str_eq(mrt_gguf_str s, const char *cstr)
{
	return cstr != NULL && gguf__str_same(s, cstr, strlen(cstr));
}
