/* GGUF v3 writer: collects key/values and tensors in memory (values already
 * serialized, tensor bytes copied), then writes the whole file to a temporary
 * file in the target directory and renames it into place. */
#include "mrt.h"
#include "mrt_gguf.h"
#include "gguf_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_WRITE_DEFAULT_ALIGNMENT 32

typedef struct gguf_wkv {
	char *key;
	uint32_t type;       /* enum mrt_gguf_vtype */
	unsigned char *body; /* the value's bytes as in the file (after its type) */
	size_t body_len;
} gguf_wkv;

typedef struct gguf_wtensor {
	char *name;
	uint32_t n_dims;
	uint64_t ne[4];
	uint32_t type;
	uint64_t nbytes;
	uint64_t offset; /* in the data section, set at write time */
	void *data;
} gguf_wtensor;

/* A growable set of names: open addressing, slots hold index + 1. */
typedef struct gguf_wset {
	uint32_t *slots;
	size_t cap; /* power of two, or 0 */
} gguf_wset;

struct mrt_gguf_writer {
	gguf_wkv *kvs;
	size_t n_kv, cap_kv;
	gguf_wtensor *tensors;
	size_t n_tensors, cap_tensors;
	gguf_wset kv_names, tensor_names;
};

static uint64_t gguf__whash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* Returns the slot holding name, or the empty slot where it would go.
 * names is an array of n strings at stride bytes apart (first field). */
static size_t gguf__wset_slot(const gguf_wset *set, const void *names, size_t stride,
                              const char *name, int *found)
{
	size_t s = (size_t)gguf__whash(name) & (set->cap - 1);

	*found = 0;
	while (set->slots[s] != 0) {
		const char *other;
		memcpy(&other, (const char *)names + (set->slots[s] - 1) * stride, sizeof other);
		if (strcmp(other, name) == 0) {
			*found = 1;
			return s;
		}
		s = (s + 1) & (set->cap - 1);
	}
	return s;
}

/* Makes room for entry n (keeping the load under one half). */
static int gguf__wset_grow(gguf_wset *set, const void *names, size_t stride, size_t n)
{
	gguf_wset bigger;
	size_t i;
	int found;

	if (set->cap != 0 && 2 * (n + 1) <= set->cap)
		return 0;
	if (n >= UINT32_MAX / 4)
		return MRT_ERR_NOMEM;
	bigger.cap = set->cap ? set->cap * 2 : 64;
	bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
	if (bigger.slots == NULL)
		return MRT_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const char *name;
		memcpy(&name, (const char *)names + i * stride, sizeof name);
		bigger.slots[gguf__wset_slot(&bigger, names, stride, name, &found)] =
		    (uint32_t)(i + 1);
	}
	free(set->slots);
	*set = bigger;
	return 0;
}

mrt_gguf_writer *mrt_gguf_writer_new(void)
{
	return calloc(1, sizeof(mrt_gguf_writer));
}

void mrt_gguf_writer_free(mrt_gguf_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n_kv; i++) {
		free(w->kvs[i].key);
		free(w->kvs[i].body);
	}
	for (i = 0; i < w->n_tensors; i++) {
		free(w->tensors[i].name);
		free(w->tensors[i].data);
	}
	free(w->kvs);
	free(w->tensors);
	free(w->kv_names.slots);
	free(w->tensor_names.slots);
	free(w);
}

/* Adds key with an already serialized body; takes over body (freed on
 * failure too). Refuses a duplicate key with MRT_ERR_INVALID. */
static int gguf__add_kv(mrt_gguf_writer *w, const char *key, uint32_t type, unsigned char *body,
                        size_t body_len)
{
	size_t slot;
	int found, rc;
	char *copy = NULL;

	rc = MRT_ERR_INVALID;
	if (w == NULL || key == NULL)
		goto fail;
	rc = gguf__wset_grow(&w->kv_names, w->kvs, sizeof *w->kvs, w->n_kv);
	if (rc < 0)
		goto fail;
	slot = gguf__wset_slot(&w->kv_names, w->kvs, sizeof *w->kvs, key, &found);
	rc = MRT_ERR_INVALID;
	if (found)
		goto fail;
	rc = MRT_ERR_NOMEM;
	if (w->n_kv == w->cap_kv) {
		size_t cap = w->cap_kv ? 2 * w->cap_kv : 16;
		gguf_wkv *kvs = realloc(w->kvs, cap * sizeof *kvs);
		if (kvs == NULL)
			goto fail;
		w->kvs = kvs;
		w->cap_kv = cap;
	}
	copy = strdup(key);
	if (copy == NULL)
		goto fail;
	w->kvs[w->n_kv] = (gguf_wkv){copy, type, body, body_len};
	w->kv_names.slots[slot] = (uint32_t)(w->n_kv + 1);
	w->n_kv++;
	return 0;
fail:
	free(body);
	return rc;
}

static int gguf__add_scalar(mrt_gguf_writer *w, const char *key, uint32_t type, const void *v,
                            size_t size)
{
	unsigned char *body = malloc(size);

	if (body == NULL)
		return MRT_ERR_NOMEM;
	memcpy(body, v, size);
	return gguf__add_kv(w, key, type, body, size);
}

int mrt_gguf_writer_set_u32(mrt_gguf_writer *w, const char *key, uint32_t v)
{
	return gguf__add_scalar(w, key, MRT_GGUF_UINT32, &v, sizeof v);
}

int mrt_gguf_writer_set_i32(mrt_gguf_writer *w, const char *key, int32_t v)
{
	return gguf__add_scalar(w, key, MRT_GGUF_INT32, &v, sizeof v);
}

int mrt_gguf_writer_set_u64(mrt_gguf_writer *w, const char *key, uint64_t v)
{
	return gguf__add_scalar(w, key, MRT_GGUF_UINT64, &v, sizeof v);
}

int mrt_gguf_writer_set_i64(mrt_gguf_writer *w, const char *key, int64_t v)
{
	return gguf__add_scalar(w, key, MRT_GGUF_INT64, &v, sizeof v);
}

int mrt_gguf_writer_set_f32(mrt_gguf_writer *w, const char *key, float v)
{
	return gguf__add_scalar(w, key, MRT_GGUF_FLOAT32, &v, sizeof v);
}

int mrt_gguf_writer_set_bool(mrt_gguf_writer *w, const char *key, int v)
{
	uint8_t b = v != 0;

	return gguf__add_scalar(w, key, MRT_GGUF_BOOL, &b, 1);
}

int mrt_gguf_writer_set_str(mrt_gguf_writer *w, const char *key, const char *v)
{
	uint64_t len;
	unsigned char *body;

	if (v == NULL)
		return MRT_ERR_INVALID;
	len = strlen(v);
	body = malloc(8 + len);
	if (body == NULL)
		return MRT_ERR_NOMEM;
	memcpy(body, &len, 8);
	memcpy(body + 8, v, len);
	return gguf__add_kv(w, key, MRT_GGUF_STRING, body, 8 + len);
}

/* Bytes of one scalar of type t; 0 for strings, arrays and unknown types. */
static size_t gguf__wscalar_size(int t)
{
	int size = mrt__gguf_scalar_size((uint32_t)t);

	return size > 0 ? (size_t)size : 0;
}

/* An array body: element type, count, then payload bytes. */
static unsigned char *gguf__arr_body(uint32_t et, uint64_t n, const void *payload, size_t len,
                                     size_t *body_len)
{
	unsigned char *body;

	if (len > SIZE_MAX - 12)
		return NULL;
	body = malloc(12 + len);
	if (body == NULL)
		return NULL;
	memcpy(body, &et, 4);
	memcpy(body + 4, &n, 8);
	if (len > 0)
		memcpy(body + 12, payload, len);
	*body_len = 12 + len;
	return body;
}

int mrt_gguf_writer_set_arr(mrt_gguf_writer *w, const char *key, int elem_type, const void *data,
                            uint64_t n)
{
	size_t esize = gguf__wscalar_size(elem_type), len, body_len, i;
	unsigned char *body;

	if (esize == 0 || (data == NULL && n > 0))
		return MRT_ERR_INVALID;
	if (n > SIZE_MAX / esize)
		return MRT_ERR_NOMEM;
	len = (size_t)n * esize;
	if (elem_type == MRT_GGUF_BOOL)
		for (i = 0; i < len; i++)
			if (((const unsigned char *)data)[i] > 1)
				return MRT_ERR_INVALID;
	body = gguf__arr_body((uint32_t)elem_type, n, data, len, &body_len);
	if (body == NULL)
		return MRT_ERR_NOMEM;
	return gguf__add_kv(w, key, MRT_GGUF_ARRAY, body, body_len);
}

int mrt_gguf_writer_set_arr_str(mrt_gguf_writer *w, const char *key, const char *const *v,
                                uint64_t n)
{
	size_t len = 0, pos, i, sl;
	unsigned char *body;
	uint32_t et = MRT_GGUF_STRING;
	uint64_t sl64;

	if (v == NULL && n > 0)
		return MRT_ERR_INVALID;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			return MRT_ERR_INVALID;
		sl = strlen(v[i]);
		if (sl > SIZE_MAX - 20 - len)
			return MRT_ERR_NOMEM;
		len += 8 + sl;
	}
	body = malloc(12 + len);
	if (body == NULL)
		return MRT_ERR_NOMEM;
	memcpy(body, &et, 4);
	memcpy(body + 4, &n, 8);
	for (pos = 12, i = 0; i < n; i++) {
		sl = strlen(v[i]);
		sl64 = sl;
		memcpy(body + pos, &sl64, 8);
		memcpy(body + pos + 8, v[i], sl);
		pos += 8 + sl;
	}
	return gguf__add_kv(w, key, MRT_GGUF_ARRAY, body, 12 + len);
}

/* The body bytes of a value read from a file (nested arrays are copied as
 * they are: the reader validated them). */
static unsigned char *gguf__value_body(const mrt_gguf_value *val, size_t *body_len)
{
	size_t size = gguf__wscalar_size(val->type);
	unsigned char *body;
	uint8_t b;
	float f;

	if (val->type == MRT_GGUF_ARRAY) {
		if (val->v.arr.nbytes > SIZE_MAX)
			return NULL;
		return gguf__arr_body((uint32_t)val->v.arr.elem_type, val->v.arr.n, val->v.arr.data,
		                      (size_t)val->v.arr.nbytes, body_len);
	}
	if (val->type == MRT_GGUF_STRING) {
		if (val->v.str.len > SIZE_MAX - 8)
			return NULL;
		body = malloc(8 + (size_t)val->v.str.len);
		if (body == NULL)
			return NULL;
		memcpy(body, &val->v.str.len, 8);
		if (val->v.str.len > 0)
			memcpy(body + 8, val->v.str.ptr, (size_t)val->v.str.len);
		*body_len = 8 + (size_t)val->v.str.len;
		return body;
	}
	if (size == 0)
		return NULL;
	body = malloc(size);
	if (body == NULL)
		return NULL;
	/* little-endian: the low bytes of the decoded 64-bit value are the field */
	if (val->type == MRT_GGUF_BOOL) {
		b = val->v.b != 0;
		memcpy(body, &b, 1);
	} else if (val->type == MRT_GGUF_FLOAT32) {
		f = (float)val->v.f64;
		memcpy(body, &f, 4);
	} else if (val->type == MRT_GGUF_FLOAT64) {
		memcpy(body, &val->v.f64, 8);
	} else {
		memcpy(body, &val->v.u64, size);
	}
	*body_len = size;
	return body;
}

int mrt_gguf_writer_copy_kv(mrt_gguf_writer *w, const mrt_gguf *g, uint64_t i)
{
	mrt_gguf_str key;
	mrt_gguf_value val;
	unsigned char *body;
	size_t body_len = 0;
	char *ckey;
	int rc;

	if (w == NULL || g == NULL || mrt_gguf_kv(g, i, &key, &val) < 0)
		return MRT_ERR_INVALID;
	if (key.len >= SIZE_MAX || memchr(key.ptr, '\0', (size_t)key.len) != NULL)
		return MRT_ERR_INVALID; /* a key with a NUL byte has no C name */
	ckey = malloc((size_t)key.len + 1);
	if (ckey == NULL)
		return MRT_ERR_NOMEM;
	memcpy(ckey, key.ptr, (size_t)key.len);
	ckey[key.len] = '\0';
	body = gguf__value_body(&val, &body_len);
	rc = body ? gguf__add_kv(w, ckey, (uint32_t)val.type, body, body_len) : MRT_ERR_NOMEM;
	free(ckey);
	return rc;
}

/* Checks type and shape; fills *nbytes (OUT). */
static int gguf__tensor_size(int type, uint32_t n_dims, const uint64_t *ne, uint64_t *nbytes)
{
	mrt_type_info ti = mrt_type_get(type);
	uint64_t nelem = 1;
	uint32_t d;

	if (ti.block_elems == 0 || n_dims < 1 || n_dims > 4 || ne == NULL)
		return MRT_ERR_INVALID;
	for (d = 0; d < n_dims; d++) {
		if (ne[d] == 0)
			return MRT_ERR_INVALID;
		if (ne[d] > INT64_MAX / nelem)
			return MRT_ERR_NOMEM;
		nelem *= ne[d];
	}
	if (ne[0] % ti.block_elems != 0)
		return MRT_ERR_INVALID;
	if (mrt_type_nbytes(type, nelem, nbytes) < 0 || *nbytes > SIZE_MAX)
		return MRT_ERR_NOMEM;
	return 0;
}

int mrt_gguf_writer_add_tensor(mrt_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                               const uint64_t *ne, const void *data)
{
	gguf_wtensor t = {0};
	size_t slot;
	int found, rc;
	uint32_t d;

	if (w == NULL || name == NULL || data == NULL)
		return MRT_ERR_INVALID;
	rc = gguf__tensor_size(type, n_dims, ne, &t.nbytes);
	if (rc < 0)
		return rc;
	rc = gguf__wset_grow(&w->tensor_names, w->tensors, sizeof *w->tensors, w->n_tensors);
	if (rc < 0)
		return rc;
	slot = gguf__wset_slot(&w->tensor_names, w->tensors, sizeof *w->tensors, name, &found);
	if (found)
		return MRT_ERR_INVALID;
	if (w->n_tensors == w->cap_tensors) {
		size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 16;
		gguf_wtensor *ts = realloc(w->tensors, cap * sizeof *ts);
		if (ts == NULL)
			return MRT_ERR_NOMEM;
		w->tensors = ts;
		w->cap_tensors = cap;
	}
	t.name = strdup(name);
	t.data = malloc((size_t)t.nbytes);
	if (t.name == NULL || t.data == NULL) {
		free(t.name);
		free(t.data);
		return MRT_ERR_NOMEM;
	}
	memcpy(t.data, data, (size_t)t.nbytes);
	t.n_dims = n_dims;
	t.type = (uint32_t)type;
	for (d = 0; d < 4; d++)
		t.ne[d] = d < n_dims ? ne[d] : 1;
	w->tensors[w->n_tensors] = t;
	w->tensor_names.slots[slot] = (uint32_t)(w->n_tensors + 1);
	w->n_tensors++;
	return 0;
}

/* ---- writing ---- */

/* The alignment from general.alignment (uint32, nonzero power of two) or
 * the default. Returns 0 with *align set, or MRT_ERR_INVALID. */
static int gguf__write_alignment(const mrt_gguf_writer *w, uint32_t *align, char *err,
                                 size_t errlen)
{
	size_t i;

	*align = GGUF_WRITE_DEFAULT_ALIGNMENT;
	for (i = 0; i < w->n_kv; i++) {
		if (strcmp(w->kvs[i].key, "general.alignment") != 0)
			continue;
		if (w->kvs[i].type != MRT_GGUF_UINT32) {
			snprintf(err, errlen, "gguf: general.alignment must be a uint32");
			return MRT_ERR_INVALID;
		}
		memcpy(align, w->kvs[i].body, 4);
		if (*align == 0 || (*align & (*align - 1)) != 0) {
			snprintf(err, errlen,
			         "gguf: general.alignment %u is not a nonzero "
			         "power of two",
			         *align);
			return MRT_ERR_INVALID;
		}
	}
	return 0;
}

/* Places every tensor at the next aligned offset of the data section. */
static int gguf__layout(mrt_gguf_writer *w, uint32_t align, char *err, size_t errlen)
{
	uint64_t cur = 0, pad;
	size_t i;

	for (i = 0; i < w->n_tensors; i++) {
		pad = (align - cur % align) % align;
		if (cur > UINT64_MAX - pad || cur + pad > UINT64_MAX - w->tensors[i].nbytes) {
			snprintf(err, errlen, "gguf: data section size overflows at tensor '%s'",
			         w->tensors[i].name);
			return MRT_ERR_NOMEM;
		}
		w->tensors[i].offset = cur + pad;
		cur = w->tensors[i].offset + w->tensors[i].nbytes;
	}
	return 0;
}

static int gguf__put(FILE *f, const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int gguf__put_u32(FILE *f, uint32_t v)
{
	return gguf__put(f, &v, 4);
}

static int gguf__put_u64(FILE *f, uint64_t v)
{
	return gguf__put(f, &v, 8);
}

static int gguf__put_str(FILE *f, const char *s)
{
	size_t n = strlen(s);

	return gguf__put_u64(f, n) < 0 || gguf__put(f, s, n) < 0 ? -1 : 0;
}

/* Writes zero bytes until *pos is a multiple of align. */
static int gguf__put_pad(FILE *f, uint64_t *pos, uint32_t align)
{
	static const unsigned char zeros[64];
	uint64_t pad = (align - *pos % align) % align;

	*pos += pad;
	while (pad > 0) {
		size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
		if (gguf__put(f, zeros, n) < 0)
			return -1;
		pad -= n;
	}
	return 0;
}

/* The whole file into f. As llama.cpp's writer does, every tensor, the last
 * one included, is padded to the alignment (its reader expects each offset
 * to be the padded end of the previous tensor and reads the padded total). */
static int gguf__put_file(const mrt_gguf_writer *w, FILE *f, uint32_t align)
{
	uint64_t pos, data_pos = 0;
	size_t i;
	uint32_t d;

	if (gguf__put(f, "GGUF", 4) < 0 || gguf__put_u32(f, 3) < 0 ||
	    gguf__put_u64(f, w->n_tensors) < 0 || gguf__put_u64(f, w->n_kv) < 0)
		return -1;
	for (i = 0; i < w->n_kv; i++)
		if (gguf__put_str(f, w->kvs[i].key) < 0 || gguf__put_u32(f, w->kvs[i].type) < 0 ||
		    gguf__put(f, w->kvs[i].body, w->kvs[i].body_len) < 0)
			return -1;
	for (i = 0; i < w->n_tensors; i++) {
		const gguf_wtensor *t = &w->tensors[i];
		if (gguf__put_str(f, t->name) < 0 || gguf__put_u32(f, t->n_dims) < 0)
			return -1;
		for (d = 0; d < t->n_dims; d++)
			if (gguf__put_u64(f, t->ne[d]) < 0)
				return -1;
		if (gguf__put_u32(f, t->type) < 0 || gguf__put_u64(f, t->offset) < 0)
			return -1;
	}
	if (w->n_tensors == 0)
		return 0;
	pos = (uint64_t)ftello(f);
	if (gguf__put_pad(f, &pos, align) < 0)
		return -1;
	for (i = 0; i < w->n_tensors; i++) {
		const gguf_wtensor *t = &w->tensors[i];
		if (gguf__put_pad(f, &data_pos, align) < 0 || data_pos != t->offset ||
		    gguf__put(f, t->data, (size_t)t->nbytes) < 0)
			return -1;
		data_pos += t->nbytes;
	}
	return gguf__put_pad(f, &data_pos, align);
}

int mrt_gguf_writer_write(mrt_gguf_writer *w, const char *path, char *err, size_t errlen)
{
	char *tmp = NULL;
	FILE *f = NULL;
	uint32_t align;
	int fd = -1, rc;

	if (w == NULL || path == NULL) {
		snprintf(err, errlen, "gguf: no writer or path");
		return MRT_ERR_INVALID;
	}
	rc = gguf__write_alignment(w, &align, err, errlen);
	if (rc == 0)
		rc = gguf__layout(w, align, err, errlen);
	if (rc < 0)
		return rc;
	rc = MRT_ERR_NOMEM;
	tmp = malloc(strlen(path) + sizeof ".tmp-XXXXXX");
	if (tmp == NULL)
		goto fail;
	strcpy(tmp, path);
	strcat(tmp, ".tmp-XXXXXX");
	rc = MRT_ERR_IO;
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "gguf: cannot create a file beside '%s': %s", path,
		         strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0644) < 0 || (f = fdopen(fd, "wb")) == NULL)
		goto fail_io;
	fd = -1; /* owned by f now */
	if (gguf__put_file(w, f, align) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0)
		goto fail_io;
	if (fclose(f) != 0) {
		f = NULL;
		goto fail_io;
	}
	f = NULL;
	if (rename(tmp, path) < 0)
		goto fail_io;
	free(tmp);
	return 0;
fail_io:
	snprintf(err, errlen, "gguf: cannot write '%s': %s", path, strerror(errno));
	unlink(tmp);
fail:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(tmp);
	if (rc == MRT_ERR_NOMEM)
		snprintf(err, errlen, "gguf: out of memory writing '%s'", path);
	return rc;
}
