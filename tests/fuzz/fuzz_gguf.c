/* libFuzzer target for the GGUF reader: any input must be refused with a
 * message or open cleanly; what opens is walked through every accessor and
 * every key is copied into a writer (exercising the writer's value copy). */
#include "mrt.h"
#include "mrt_gguf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static volatile uint64_t sink;

static void walk_value(const mrt_gguf_value *v)
{
	mrt_gguf_value sub;
	mrt_gguf_str s;
	int64_t iv;
	double dv;
	uint64_t i;

	if (v->type == MRT_GGUF_STRING && v->v.str.len > 0)
		sink += (unsigned char)v->v.str.ptr[v->v.str.len - 1];
	if (v->type != MRT_GGUF_ARRAY)
		return;
	if (v->v.arr.nbytes > 0)
		sink += v->v.arr.data[v->v.arr.nbytes - 1];
	for (i = 0; i < v->v.arr.n && i < 16; i++) {
		if (mrt_gguf_arr_str(v, i, &s) == 0 && s.len > 0)
			sink += (unsigned char)s.ptr[s.len - 1];
		if (mrt_gguf_arr_sub(v, i, &sub) == 0)
			walk_value(&sub);
		if (mrt_gguf_arr_i64(v, i, &iv) == 0)
			sink += (uint64_t)iv;
		if (mrt_gguf_arr_f64(v, i, &dv) == 0)
			sink += dv == dv;
	}
}

static void walk(const mrt_gguf *g)
{
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	mrt_gguf_tensor_info t;
	mrt_gguf_value v;
	mrt_gguf_str key;
	char name[256];
	uint64_t i;

	for (i = 0; i < mrt_gguf_n_kv(g); i++) {
		if (mrt_gguf_kv(g, i, &key, &v) != 0)
			__builtin_trap();
		walk_value(&v);
		if (w != NULL)
			(void)mrt_gguf_writer_copy_kv(w, g, i);
		if (key.len < sizeof name && memchr(key.ptr, 0, key.len) == NULL) {
			memcpy(name, key.ptr, key.len);
			name[key.len] = '\0';
			if (mrt_gguf_find_kv(g, name) != (int64_t)i)
				__builtin_trap(); /* duplicates are refused at open */
		}
	}
	for (i = 0; i < mrt_gguf_n_tensors(g); i++) {
		if (mrt_gguf_tensor(g, i, &t) != 0 || t.nbytes == 0)
			__builtin_trap();
		sink += ((const unsigned char *)t.data)[0];
		sink += ((const unsigned char *)t.data)[t.nbytes - 1];
		if (t.name.len < sizeof name && memchr(t.name.ptr, 0, t.name.len) == NULL) {
			memcpy(name, t.name.ptr, t.name.len);
			name[t.name.len] = '\0';
			if (mrt_gguf_find_tensor(g, name) != (int64_t)i)
				__builtin_trap();
		}
	}
	mrt_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	mrt_gguf *g = mrt_gguf_open_buffer(data, size, err, sizeof err);

	if (g == NULL) {
		if (strncmp(err, "gguf: ", 6) != 0)
			__builtin_trap(); /* every refusal says why */
		return 0;
	}
	walk(g);
	mrt_gguf_close(g);
	return 0;
}
