/* GGUF v3 files: a validating reader over a read-only memory map, a writer,
 * and the tensor element types (ggml block layouts) with quantize/dequantize.
 * Every field read from a file is untrusted and checked before use.
 * This header includes only standard headers. */
#ifndef MRT_GGUF_H
#define MRT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tensor element types: the numeric values are ggml's ---- */
enum mrt_type {
	MRT_TYPE_F32 = 0,
	MRT_TYPE_F16 = 1,
	MRT_TYPE_Q4_0 = 2,
	MRT_TYPE_Q4_1 = 3,
	MRT_TYPE_Q5_0 = 6,
	MRT_TYPE_Q5_1 = 7,
	MRT_TYPE_Q8_0 = 8,
	MRT_TYPE_Q8_1 = 9,
	MRT_TYPE_Q2_K = 10,
	MRT_TYPE_Q3_K = 11,
	MRT_TYPE_Q4_K = 12,
	MRT_TYPE_Q5_K = 13,
	MRT_TYPE_Q6_K = 14,
	MRT_TYPE_Q8_K = 15,
	MRT_TYPE_I8 = 24,
	MRT_TYPE_I16 = 25,
	MRT_TYPE_I32 = 26,
	MRT_TYPE_I64 = 27,
	MRT_TYPE_F64 = 28,
	MRT_TYPE_BF16 = 30,
	MRT_TYPE_COUNT = 40 /* upper bound of the numbering, not a type */
};

/* Layout of a type. Unknown types have block size 0. */
typedef struct mrt_type_info {
	const char *name;   /* "f32", "q8_0", ...; NULL for an unknown number */
	size_t block_elems; /* elements per block (1 for plain types) */
	size_t block_bytes; /* bytes per block */
	int can_dequantize; /* 1 when mrt_dequantize() handles it */
	int can_quantize;   /* 1 when mrt_quantize() handles it */
} mrt_type_info;

/* Returns the info of type t; a zeroed struct for unknown t. */
mrt_type_info mrt_type_get(int t);
/* Type number for a name ("q4_0"), or -1. */
int mrt_type_from_name(const char *name);
/* Bytes of n elements of type t into *bytes (OUT). Returns 0, or -1 when n
 * is not a multiple of the block size, t is unknown, or the size overflows. */
int mrt_type_nbytes(int t, uint64_t n, uint64_t *bytes);

/* Convert n elements (n a multiple of the block size). Return 0 or -1 when
 * the type is not supported in that direction. */
int mrt_dequantize(int t, const void *src, float *dst, size_t n);
int mrt_quantize(int t, const float *src, void *dst, size_t n);
/* IEEE half and bfloat16 conversions (round to nearest even). */
float mrt_f16_to_f32(uint16_t h);
uint16_t mrt_f32_to_f16(float f);
float mrt_bf16_to_f32(uint16_t h);
uint16_t mrt_f32_to_bf16(float f);

/* ---- metadata values ---- */
enum mrt_gguf_vtype {
	MRT_GGUF_UINT8 = 0,
	MRT_GGUF_INT8 = 1,
	MRT_GGUF_UINT16 = 2,
	MRT_GGUF_INT16 = 3,
	MRT_GGUF_UINT32 = 4,
	MRT_GGUF_INT32 = 5,
	MRT_GGUF_FLOAT32 = 6,
	MRT_GGUF_BOOL = 7,
	MRT_GGUF_STRING = 8,
	MRT_GGUF_ARRAY = 9,
	MRT_GGUF_UINT64 = 10,
	MRT_GGUF_INT64 = 11,
	MRT_GGUF_FLOAT64 = 12,
};

/* A string inside the file: not NUL-terminated. */
typedef struct mrt_gguf_str {
	uint64_t len;
	const char *ptr;
} mrt_gguf_str;

/* A parsed metadata value. Scalars are decoded; arrays point into the map.
 * For arrays: elem_type and n give the elements; an array of plain scalars
 * has its raw little-endian elements at arr.data; an array of strings or of
 * arrays is read with mrt_gguf_arr_str() / mrt_gguf_arr_sub(). */
typedef struct mrt_gguf_value {
	int type; /* enum mrt_gguf_vtype */
	union {
		uint64_t u64;
		int64_t i64;
		double f64;
		int b;
		mrt_gguf_str str;
		struct {
			int elem_type;
			uint64_t n;
			const unsigned char *data; /* first element's bytes in the map */
			uint64_t nbytes;           /* bytes spanned by all elements */
		} arr;
	} v;
} mrt_gguf_value;

typedef struct mrt_gguf_tensor_info {
	mrt_gguf_str name;
	uint32_t n_dims;
	uint64_t ne[4]; /* ggml order: ne[0] is the fastest-varying dimension */
	int type;       /* enum mrt_type */
	uint64_t offset; /* relative to the data section */
	uint64_t nbytes;
	const void *data; /* in the map, aligned */
} mrt_gguf_tensor_info;

typedef struct mrt_gguf mrt_gguf;

/* Open and validate a GGUF v2/v3 file: mapped read-only. Returns a new
 * handle, or NULL with a message naming the problem and its byte offset in
 * err. Everything returned by the accessors below points into the map and
 * lives as long as the handle. */
mrt_gguf *mrt_gguf_open(const char *path, char *err, size_t errlen);
/* The same over a caller's buffer (borrowed; must outlive the handle).
 * Used by fuzzers and tests. */
mrt_gguf *mrt_gguf_open_buffer(const void *buf, size_t len, char *err, size_t errlen);
void mrt_gguf_close(mrt_gguf *g);
/* Map every page of a file opened by mrt_gguf_open into the process now
 * (MADV_POPULATE_READ), so inference does not fault pages in as it first
 * reads them: the whole model on the first request after a load, and
 * later each token embedding row on a page not read before (8 streams of
 * the 110M Q4_K_M model: a step's 8 rows took 106 us with the faults, 61-66
 * without, on a VM). Returns 0, or -1 when the handle is not a map or the
 * kernel cannot (older than Linux 5.14): the pages then come in as read. */
int mrt_gguf_populate(const mrt_gguf *g);
/* The same for the pages of [p, p + n) inside the map (populate), or give
 * back the whole pages inside it (drop: MADV_DONTNEED; a later read maps
 * them again from the file). Returns 0, or -1 when the handle is not a map,
 * the range is not inside it, or the kernel refuses. */
int mrt_gguf_populate_range(const mrt_gguf *g, const void *p, uint64_t n);
int mrt_gguf_drop_range(const mrt_gguf *g, const void *p, uint64_t n);
/* 1 when the handle reads a map of the file (mrt_gguf_open), 0 for a buffer. */
int mrt_gguf_is_mapped(const mrt_gguf *g);

uint32_t mrt_gguf_version(const mrt_gguf *g);
uint64_t mrt_gguf_file_size(const mrt_gguf *g);
uint32_t mrt_gguf_alignment(const mrt_gguf *g);
uint64_t mrt_gguf_n_kv(const mrt_gguf *g);
uint64_t mrt_gguf_n_tensors(const mrt_gguf *g);

/* Key/value i: fills *key and *val (OUT). Returns 0 or -1 when out of range. */
int mrt_gguf_kv(const mrt_gguf *g, uint64_t i, mrt_gguf_str *key, mrt_gguf_value *val);
/* Finds a key (NUL-terminated); returns its index or -1. */
int64_t mrt_gguf_find_kv(const mrt_gguf *g, const char *key);
/* Typed getters: 0 on success, -1 when absent or of another type. Integer
 * getters accept any integer type whose value fits. */
int mrt_gguf_get_u64(const mrt_gguf *g, const char *key, uint64_t *out);
int mrt_gguf_get_i64(const mrt_gguf *g, const char *key, int64_t *out);
int mrt_gguf_get_f32(const mrt_gguf *g, const char *key, float *out);
int mrt_gguf_get_str(const mrt_gguf *g, const char *key, mrt_gguf_str *out);
int mrt_gguf_get_arr(const mrt_gguf *g, const char *key, mrt_gguf_value *out);
/* Element i of an array value (validated at open, so these only fail for an
 * index out of range or a wrong element type): string element, sub-array
 * element, integer element (any integer type), float element (f32/f64). */
int mrt_gguf_arr_str(const mrt_gguf_value *arr, uint64_t i, mrt_gguf_str *out);
int mrt_gguf_arr_sub(const mrt_gguf_value *arr, uint64_t i, mrt_gguf_value *out);
int mrt_gguf_arr_i64(const mrt_gguf_value *arr, uint64_t i, int64_t *out);
int mrt_gguf_arr_f64(const mrt_gguf_value *arr, uint64_t i, double *out);
/* All string elements of an array in one pass: out (OUT) must hold
 * arr->v.arr.n entries. mrt_gguf_arr_str() walks from the start each call,
 * so reading a 32000-token vocabulary should use this. Returns 0, or -1 when
 * arr is not an array of strings. */
int mrt_gguf_arr_strs(const mrt_gguf_value *arr, mrt_gguf_str *out);

/* Tensor i into *info (OUT); returns 0 or -1. */
int mrt_gguf_tensor(const mrt_gguf *g, uint64_t i, mrt_gguf_tensor_info *info);
/* Finds a tensor by name; returns its index or -1. */
int64_t mrt_gguf_find_tensor(const mrt_gguf *g, const char *name);

/* Compare a file string with a C string. */
int mrt_gguf_str_eq(mrt_gguf_str s, const char *cstr);

/* ---- writer ----
 * Collects metadata and tensors in memory, then writes a GGUF v3 file
 * (alignment 32 unless general.alignment is set). Tensor data is copied at
 * add time. All calls return 0 or a negative mrt_status. */
typedef struct mrt_gguf_writer mrt_gguf_writer;
mrt_gguf_writer *mrt_gguf_writer_new(void);
void mrt_gguf_writer_free(mrt_gguf_writer *w);
int mrt_gguf_writer_set_u32(mrt_gguf_writer *w, const char *key, uint32_t v);
int mrt_gguf_writer_set_i32(mrt_gguf_writer *w, const char *key, int32_t v);
int mrt_gguf_writer_set_u64(mrt_gguf_writer *w, const char *key, uint64_t v);
int mrt_gguf_writer_set_i64(mrt_gguf_writer *w, const char *key, int64_t v);
int mrt_gguf_writer_set_f32(mrt_gguf_writer *w, const char *key, float v);
int mrt_gguf_writer_set_bool(mrt_gguf_writer *w, const char *key, int v);
int mrt_gguf_writer_set_str(mrt_gguf_writer *w, const char *key, const char *v);
/* Arrays of scalars: elem_type is an enum mrt_gguf_vtype scalar type and
 * data holds n little-endian elements of it. */
int mrt_gguf_writer_set_arr(mrt_gguf_writer *w, const char *key, int elem_type, const void *data,
			    uint64_t n);
int mrt_gguf_writer_set_arr_str(mrt_gguf_writer *w, const char *key, const char *const *v,
				uint64_t n);
/* Copy key/value i of an open file (any type, nested arrays too). */
int mrt_gguf_writer_copy_kv(mrt_gguf_writer *w, const mrt_gguf *g, uint64_t i);
/* Add a tensor: ne in ggml order (ne[0] fastest), data holds its bytes in
 * type's layout (copied). */
int mrt_gguf_writer_add_tensor(mrt_gguf_writer *w, const char *name, int type, uint32_t n_dims,
			       const uint64_t *ne, const void *data);
/* Write the file atomically (temp file + rename). err gets a message. */
int mrt_gguf_writer_write(mrt_gguf_writer *w, const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
