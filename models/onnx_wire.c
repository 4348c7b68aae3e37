/* ONNX protobuf wire format: the per-model arena and bounds-checked readers
 * for tags, varints, fixed-size and length-delimited fields. */
#include "onnx_wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct onnx_arena {
	struct chunk {
		struct chunk *next;
		size_t used, cap;
		_Alignas(16) unsigned char mem[];
	} * head;
	size_t total, limit;
};

void onnx__arena_free(onnx_arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* Zeroed, 16-byte aligned memory living as long as the arena; NULL when
 * out of memory or past the arena's limit. */
void *onnx__arena_alloc(onnx_arena *a, size_t n)
{
	struct chunk *c = a->head;
	size_t cap;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (n > a->limit || a->total > a->limit - n)
		return NULL;
	if (!c || c->cap - c->used < n) {
		cap = n > 65536 ? n : 65536;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = c->mem + c->used;
	c->used += n;
	a->total += n;
	memset(p, 0, n);
	return p;
}

/* ---- wire format ---- */

int onnx__fail(onnx__dec *d, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->err && d->errlen) {
		n = snprintf(d->err, d->errlen, "onnx: at byte %zu: ", at);
		if (n >= 0 && (size_t)n < d->errlen) {
			va_start(ap, fmt);
			vsnprintf(d->err + n, d->errlen - n, fmt, ap);
			va_end(ap);
		}
	}
	return -1;
}

int onnx__nomem(onnx__dec *d, size_t at)
{
	return onnx__fail(d, at, "out of memory (or decoded size over %u x input)", ONNX_EXPANSION);
}

int onnx__read_varint(onnx__dec *d, size_t *pos, size_t end, uint64_t *out)
{
	uint64_t v = 0;
	size_t at = *pos;
	int shift;

	for (shift = 0; shift < 70; shift += 7) {
		unsigned char b;

		if (*pos >= end)
			return onnx__fail(d, at, "truncated varint");
		b = d->buf[(*pos)++];
		if (shift == 63 && (b & 0x7e))
			return onnx__fail(d, at, "varint overflows 64 bits");
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return onnx__fail(d, at, "varint longer than 10 bytes");
}

uint64_t onnx__load_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Read the field at *pos (< end) and advance past it. */
int onnx__next_field(onnx__dec *d, size_t *pos, size_t end, onnx__field *f)
{
	uint64_t tag, n;

	f->at = *pos;
	if (onnx__read_varint(d, pos, end, &tag))
		return -1;
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return onnx__fail(d, f->at, "bad field number %llu",
		                  (unsigned long long)(tag >> 3));
	f->num = (uint32_t)(tag >> 3);
	f->wt = (int)(tag & 7);
	switch (f->wt) {
	case WT_VARINT:
		return onnx__read_varint(d, pos, end, &f->u);
	case WT_I64:
	case WT_I32:
		n = f->wt == WT_I64 ? 8 : 4;
		if (end - *pos < n)
			return onnx__fail(d, f->at, "truncated fixed-size field %u", f->num);
		f->u = onnx__load_le(d->buf + *pos, (int)n);
		*pos += n;
		return 0;
	case WT_LEN:
		if (onnx__read_varint(d, pos, end, &n))
			return -1;
		if (n > end - *pos)
			return onnx__fail(d, f->at,
			                  "field %u: length %llu runs past the end of its message",
			                  f->num, (unsigned long long)n);
		f->off = *pos;
		f->len = (size_t)n;
		*pos += (size_t)n;
		return 0;
	default:
		return onnx__fail(d, f->at, "field %u: unsupported wire type %d", f->num, f->wt);
	}
}

int onnx__want(onnx__dec *d, const onnx__field *f, int wt, const char *what)
{
	if (f->wt == wt)
		return 0;
	return onnx__fail(d, f->at, "%s: wrong wire type %d (expected %d)", what, f->wt, wt);
}

/* Repeated scalar element kinds for counting. */

/* Count occurrences of each field number < ONNX_MAX_FIELD in [pos, end);
 * for repeated scalars (kinds[num] != K_NONE) a packed field counts its
 * elements. Also validates the framing of every field. */
int onnx__count_fields(onnx__dec *d, size_t pos, size_t end, const unsigned char *kinds,
                       size_t counts[ONNX_MAX_FIELD])
{
	onnx__field f;
	size_t i, n;

	memset(counts, 0, sizeof(size_t) * ONNX_MAX_FIELD);
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			return -1;
		if (f.num >= ONNX_MAX_FIELD)
			continue;
		n = 1;
		if (f.wt == WT_LEN && kinds && kinds[f.num] != K_NONE) {
			switch (kinds[f.num]) {
			case K_VARINT:
				for (n = 0, i = 0; i < f.len; i++)
					n += !(d->buf[f.off + i] & 0x80);
				break;
			case K_I32:
			case K_I64:
				if (f.len % (kinds[f.num] == K_I32 ? 4 : 8))
					return onnx__fail(d, f.at,
					                  "field %u: packed length %zu is not a "
					                  "multiple of the element size",
					                  f.num, f.len);
				n = f.len / (kinds[f.num] == K_I32 ? 4 : 8);
				break;
			}
		}
		counts[f.num] += n;
	}
	return 0;
}

/* An array of n elements of size sz from the arena (n may be 0). */
void *onnx__alloc_array(onnx__dec *d, size_t at, size_t n, size_t sz, void **out)
{
	if (n && sz > SIZE_MAX / n) {
		onnx__nomem(d, at);
		return NULL;
	}
	*out = onnx__arena_alloc(d->arena, n * sz);
	if (!*out)
		onnx__nomem(d, at);
	return *out;
}

int onnx__dup_bytes(onnx__dec *d, const onnx__field *f, char **out, const char *what)
{
	if (onnx__want(d, f, WT_LEN, what))
		return -1;
	if (f->len == SIZE_MAX)
		return onnx__nomem(d, f->at);
	*out = onnx__arena_alloc(d->arena, f->len + 1);
	if (!*out)
		return onnx__nomem(d, f->at);
	memcpy(*out, d->buf + f->off, f->len);
	return 0;
}

/* Append the elements of a repeated scalar field (packed or not) to arr at
 * *n (arr sized by count_fields). kind is K_*; elem_size 4 or 8. Varints
 * are stored as int64_t, fixed32 as 4 bytes, fixed64 as 8 bytes. */
int onnx__read_repeated(onnx__dec *d, const onnx__field *f, int kind, void *arr, size_t *n,
                        size_t cap, const char *what)
{
	int wt = kind == K_VARINT ? WT_VARINT : kind == K_I32 ? WT_I32 : WT_I64;
	size_t pos, end;
	uint64_t v;

	if (f->wt == wt) {
		if (*n >= cap)
			return onnx__fail(d, f->at, "%s: count changed between passes", what);
		v = f->u;
		goto store_one;
	}
	if (f->wt != WT_LEN)
		return onnx__want(d, f, wt, what);
	pos = f->off;
	end = f->off + f->len;
	while (pos < end) {
		if (*n >= cap)
			return onnx__fail(d, pos, "%s: count changed between passes", what);
		if (kind == K_VARINT) {
			if (onnx__read_varint(d, &pos, end, &v))
				return -1;
		} else {
			int sz = kind == K_I32 ? 4 : 8;

			v = onnx__load_le(d->buf + pos, sz); /* length checked by count_fields */
			pos += sz;
		}
		if (kind == K_I32)
			((uint32_t *)arr)[(*n)++] = (uint32_t)v;
		else
			((uint64_t *)arr)[(*n)++] = v;
	}
	return 0;
store_one:
	if (kind == K_I32)
		((uint32_t *)arr)[(*n)++] = (uint32_t)v;
	else
		((uint64_t *)arr)[(*n)++] = v;
	return 0;
}

int onnx__enter(onnx__dec *d, size_t at, const char *what)
{
	if (++d->depth > ONNX_MAX_DEPTH)
		return onnx__fail(d, at, "%s: messages nested deeper than %d", what,
		                  ONNX_MAX_DEPTH);
	return 0;
}

void onnx__leave(onnx__dec *d)
{
	d->depth--;
}

onnx_arena *onnx__arena_new(size_t limit)
{
	onnx_arena *a = calloc(1, sizeof(*a));

	if (a)
		a->limit = limit;
	return a;
}
