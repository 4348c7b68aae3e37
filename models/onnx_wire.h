/* Internal to the ONNX reader: the wire-format primitives shared by
 * onnx_wire.c and the message decoders in onnx.c. */
#ifndef ONNX_WIRE_H
#define ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.h"

#define ONNX_MAX_DEPTH 32
#define ONNX_MAX_FIELD 32          /* highest field number we count; others are skipped */
#define ONNX_EXPANSION 40          /* decoded bytes allowed per input byte ... */
#define ONNX_BASE_BYTES (1u << 20) /* ... plus this */
#define ONNX_MAX_FILE ((size_t)1 << 34)

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

enum { K_NONE = 0, K_VARINT, K_I32, K_I64 }; /* repeated scalar kinds */

typedef struct onnx__dec {
	const unsigned char *buf;
	size_t len;
	onnx_arena *arena;
	int depth;
	char *err;
	size_t errlen;
} onnx__dec;

/* One decoded field. For WT_LEN, [off, off+len) is the payload. */
typedef struct onnx__field {
	uint32_t num;
	int wt;
	size_t at;  /* offset of the tag */
	uint64_t u; /* varint / fixed value */
	size_t off, len;
} onnx__field;

/* A new arena allowed to hand out at most limit bytes; NULL when out of memory. */
onnx_arena *onnx__arena_new(size_t limit);
void onnx__arena_free(onnx_arena *a);
void *onnx__arena_alloc(onnx_arena *a, size_t n);
__attribute__((format(printf, 3, 4))) int onnx__fail(onnx__dec *d, size_t at, const char *fmt, ...);
int onnx__nomem(onnx__dec *d, size_t at);
int onnx__read_varint(onnx__dec *d, size_t *pos, size_t end, uint64_t *out);
uint64_t onnx__load_le(const unsigned char *p, int n);
int onnx__next_field(onnx__dec *d, size_t *pos, size_t end, onnx__field *f);
int onnx__want(onnx__dec *d, const onnx__field *f, int wt, const char *what);
int onnx__count_fields(onnx__dec *d, size_t pos, size_t end, const unsigned char *kinds,
                       size_t counts[ONNX_MAX_FIELD]);
void *onnx__alloc_array(onnx__dec *d, size_t at, size_t n, size_t sz, void **out);
int onnx__dup_bytes(onnx__dec *d, const onnx__field *f, char **out, const char *what);
int onnx__read_repeated(onnx__dec *d, const onnx__field *f, int kind, void *arr, size_t *n,
                        size_t cap, const char *what);
int onnx__enter(onnx__dec *d, size_t at, const char *what);
void onnx__leave(onnx__dec *d);

#endif
