/* Weight quantization: which constants of a graph are weight matrices and
 * their row length, quantizing them, and re-quantizing an existing GGUF
 * file (graph or llama) to another weight type. */
#include "convert_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row length of c for its use as input `slot` of n, or 0 when that use is
 * not as a weight matrix. */
static int64_t row_for_use(const mrt__node *n, int slot, const mrt__const *c)
{
	int64_t tb = 0, row = 1;
	int i;

	if ((!strcmp(n->op, "Gemm") || !strcmp(n->op, "MatMul")) && slot == 1) {
		if (mrt__attr_int(n, "transB", 0, &tb) || !tb || c->ndim != 2)
			return 0;
		return c->dims[1];
	}
	if (!strcmp(n->op, "Conv") && slot == 1 && c->ndim >= 3) {
		for (i = 1; i < c->ndim; i++)
			row *= c->dims[i];
		return row;
	}
	if ((!strcmp(n->op, "LSTM") || !strcmp(n->op, "GRU")) && (slot == 1 || slot == 2) &&
	    c->ndim == 3)
		return c->dims[2];
	if (!strcmp(n->op, "Gather") && slot == 0 && c->ndim == 2)
		return c->dims[1];
	if (!strcmp(n->op, "RetrieveTopK") && slot == 1 && c->ndim == 2)
		return c->dims[1];
	return 0;
}

int64_t cv__weight_row(const mrt__graph *g, const mrt__const *c)
{
	int64_t row = 0, r;
	int i, j;

	for (i = 0; i < g->n_nodes; i++)
		for (j = 0; j < g->nodes[i].n_in; j++) {
			if (strcmp(g->nodes[i].in[j], c->name) != 0)
				continue;
			r = row_for_use(&g->nodes[i], j, c);
			if (r <= 0 || (row && r != row))
				return 0; /* also read as something else */
			row = r;
		}
	return row;
}

/* Quantize F32 constant c (rows of `row` elements) to type in place, unless
 * the row length does not fit the type's blocks. */
static int quantize_const(mrt__const *c, int64_t row, int type, char *err, size_t errlen)
{
	mrt_type_info ti = mrt_type_get(type);
	uint64_t n = c->nbytes / sizeof(float), nbytes;
	void *dst;

	if (ti.block_elems == 0 || !ti.can_quantize) {
		snprintf(err, errlen, "cannot quantize to type %d", type);
		return MRT_ERR_UNSUPPORTED;
	}
	if (row <= 0 || (uint64_t)row % ti.block_elems != 0)
		return 0; /* stays F32 */
	if (mrt_type_nbytes(type, n, &nbytes) || nbytes > SIZE_MAX) {
		snprintf(err, errlen, "constant '%s': size overflows", c->name);
		return MRT_ERR_NOMEM;
	}
	dst = malloc(nbytes ? (size_t)nbytes : 1);
	if (!dst) {
		snprintf(err, errlen, "out of memory quantizing '%s'", c->name);
		return MRT_ERR_NOMEM;
	}
	if (mrt_quantize(type, c->data, dst, (size_t)n)) {
		free(dst);
		snprintf(err, errlen, "cannot quantize '%s' to %s", c->name, ti.name);
		return MRT_ERR_UNSUPPORTED;
	}
	if (c->owned)
		free(c->data);
	c->data = dst;
	c->owned = 1;
	c->nbytes = (size_t)nbytes;
	c->type = type;
	return 0;
}

int cv__quantize(mrt__graph *g, int type, char *err, size_t errlen)
{
	int i, rc;

	if (type == MRT_TYPE_F32)
		return 0;
	for (i = 0; i < g->n_consts; i++) {
		mrt__const *c = &g->consts[i];

		if (c->type != MRT_TYPE_F32)
			continue;
		if ((rc = quantize_const(c, cv__weight_row(g, c), type, err, errlen)))
			return rc;
	}
	return 0;
}

/* ---- re-quantizing a file ---- */

/* Make c an owned F32 constant (dequantizing when needed). */
static int to_f32(mrt__const *c, char *err, size_t errlen)
{
	mrt_type_info ti = mrt_type_get(c->type);
	uint64_t n;
	float *f;

	if (c->type == MRT_TYPE_F32)
		return 0;
	if (!ti.block_elems || !ti.can_dequantize || c->nbytes % ti.block_bytes) {
		snprintf(err, errlen, "constant '%s': cannot dequantize type %d", c->name, c->type);
		return MRT_ERR_UNSUPPORTED;
	}
	n = (uint64_t)(c->nbytes / ti.block_bytes) * ti.block_elems;
	if (n > SIZE_MAX / sizeof(float) || !(f = malloc(n ? (size_t)n * sizeof(float) : 1))) {
		snprintf(err, errlen, "out of memory for '%s'", c->name);
		return MRT_ERR_NOMEM;
	}
	if (mrt_dequantize(c->type, c->data, f, (size_t)n)) {
		free(f);
		snprintf(err, errlen, "constant '%s': cannot dequantize", c->name);
		return MRT_ERR_UNSUPPORTED;
	}
	if (c->owned)
		free(c->data);
	c->data = f, c->owned = 1, c->nbytes = (size_t)n * sizeof(float), c->type = MRT_TYPE_F32;
	return 0;
}

/* A weight already in a quantized type (not F32, F16 or BF16) that would be
 * quantized again to another type: refused unless allowed, as llama.cpp's
 * quantize tool does, since the error of both roundings adds up. Expanding
 * it to F32 or F16 is always allowed. */
static int requant_refused(const char *name, int from, int to, int allow, char *err,
                           size_t errlen)
{
	if (allow || from == to || from == MRT_TYPE_F32 || from == MRT_TYPE_F16 ||
	    from == MRT_TYPE_BF16 || to == MRT_TYPE_F32 || to == MRT_TYPE_F16)
		return 0;
	snprintf(err, errlen,
	         "'%s' is already %s: quantizing it again to %s adds the error of both "
	         "roundings (allow it with --allow-requantize, or start from the F32/F16 file)",
	         name, mrt_type_get(from).name, mrt_type_get(to).name);
	return MRT_ERR_INVALID;
}

/* Weight c (rows of `row` elements) to type: refused by requant_refused,
 * else through F32 and quantized (unless type is F32). */
static int requantize_const(mrt__const *c, int64_t row, int type, int allow, char *err,
                            size_t errlen)
{
	int rc = requant_refused(c->name, c->type, type, allow, err, errlen);
	if (rc == 0)
		rc = to_f32(c, err, errlen);
	if (rc == 0 && type != MRT_TYPE_F32)
		rc = quantize_const(c, row, type, err, errlen);
	return rc;
}

static int requantize_graph(const mrt_gguf *f, mrt_gguf_writer *w, int type, int allow,
                            char *err, size_t errlen)
{
	mrt__graph *g = mrt__graph_read(f, err, errlen);
	mrt_gguf_str key;
	mrt_gguf_value val;
	uint64_t i;
	int k, rc = 0;

	if (!g)
		return MRT_ERR_FORMAT;
	for (k = 0; k < g->n_consts && rc == 0; k++) {
		int64_t row = cv__weight_row(g, &g->consts[k]);

		if (row <= 0)
			continue;
		rc = requantize_const(&g->consts[k], row, type, allow, err, errlen);
	}
	if (rc == 0)
		rc = mrt__graph_write(g, w, err, errlen);
	for (i = 0; rc == 0 && i < mrt_gguf_n_kv(f); i++) {
		if (mrt_gguf_kv(f, i, &key, &val))
			continue;
		if ((key.len >= 11 && memcmp(key.ptr, "modelgraph.", 11) == 0) ||
		    mrt_gguf_str_eq(key, "general.architecture") ||
		    mrt_gguf_str_eq(key, "general.alignment"))
			continue; /* written by mrt__graph_write / the writer */
		if ((rc = mrt_gguf_writer_copy_kv(w, f, i)))
			snprintf(err, errlen, "cannot copy metadata key %.*s", (int)key.len,
			         key.ptr);
	}
	mrt__graph_free(g);
	return rc;
}

static int ends_with(mrt_gguf_str s, const char *suffix)
{
	size_t n = strlen(suffix);

	return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

int convert_quant_type(const char *name)
{
	int type;

	if (!strcmp(name, "q4_k_m"))
		return CONVERT_Q4_K_M;
	if (!strcmp(name, "q5_k_m"))
		return CONVERT_Q5_K_M;
	type = mrt_type_from_name(name);
	return type >= 0 && mrt_type_get(type).can_quantize ? type : -1;
}

static int is_kquant(int type)
{
	return type == MRT_TYPE_Q4_K || type == MRT_TYPE_Q5_K || type == MRT_TYPE_Q6_K;
}

/* llama.cpp's use_more_bits: layer i of n gets the bigger type. */
static int more_bits(long i, long n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* Tensor name is attn_v or ffn_down of a block that llama.cpp's mixes give
 * more bits ("blk.N.attn_v.weight" with more_bits(N, n_layer)). */
static int mix_bigger(const char *name, long n_layer)
{
	char *end;
	long layer;

	if (strncmp(name, "blk.", 4) != 0)
		return 0;
	layer = strtol(name + 4, &end, 10);
	if (end == name + 4 || *end != '.')
		return 0;
	return (!strcmp(end + 1, "attn_v.weight") || !strcmp(end + 1, "ffn_down.weight")) &&
	       more_bits(layer, n_layer);
}

/* The type tensor name (rows of row elements) gets in a llama file
 * quantized to type (or a mix) with n_layer blocks. */
static int llama_tensor_type(const char *name, uint64_t row, int type, long n_layer)
{
	int mix = type == CONVERT_Q4_K_M || type == CONVERT_Q5_K_M;
	int base = type == CONVERT_Q4_K_M ? MRT_TYPE_Q4_K
	           : type == CONVERT_Q5_K_M ? MRT_TYPE_Q5_K
	                                    : type;

	if (!is_kquant(base))
		return base;
	if (!strcmp(name, "output.weight") || (mix && mix_bigger(name, n_layer)))
		base = MRT_TYPE_Q6_K;
	return row % 256 == 0 ? base : MRT_TYPE_Q8_0;
}

/* One llama tensor: 2-D *.weight (not *_norm.weight) whose rows fit the
 * blocks of type is re-quantized; anything else is copied. */
static int requantize_tensor(const mrt_gguf_tensor_info *t, mrt_gguf_writer *w, int type,
                             int allow, char *name, char *err, size_t errlen)
{
	mrt__const c = {.name = name,
	                .type = t->type,
	                .ndim = 2,
	                .data = (void *)t->data,
	                .nbytes = (size_t)t->nbytes};
	int rc;

	if (t->n_dims != 2 || !ends_with(t->name, ".weight") ||
	    ends_with(t->name, "_norm.weight") || t->type == type ||
	    !mrt_type_get(t->type).can_dequantize)
		return mrt_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data);
	c.dims[0] = (int64_t)t->ne[1], c.dims[1] = (int64_t)t->ne[0];
	rc = requantize_const(&c, c.dims[1], type, allow, err, errlen);
	if (rc == 0)
		rc = mrt_gguf_writer_add_tensor(w, name, c.type, 2, t->ne, c.data);
	if (c.owned)
		free(c.data);
	return rc;
}

/* general.file_type as llama.cpp numbers it (enum llama_ftype); a plain
 * k-quant file is labelled as the _S mix of its type. */
static uint32_t llama_file_type(int type)
{
	switch (type) {
	case MRT_TYPE_F16: return 1;
	case MRT_TYPE_Q4_0: return 2;
	case MRT_TYPE_Q8_0: return 7;
	case MRT_TYPE_Q4_K: return 14;
	case CONVERT_Q4_K_M: return 15;
	case MRT_TYPE_Q5_K: return 16;
	case CONVERT_Q5_K_M: return 17;
	case MRT_TYPE_Q6_K: return 18;
	default: return 0;
	}
}

static int requantize_llama(const mrt_gguf *f, mrt_gguf_writer *w, int type, int allow,
                            char *err, size_t errlen)
{
	mrt_gguf_tensor_info t;
	mrt_gguf_str key;
	mrt_gguf_value val;
	char name[1024];
	uint64_t i, nl;
	long n_layer = 0;
	int rc = 0;

	for (i = 0; rc == 0 && i < mrt_gguf_n_kv(f); i++)
		if (mrt_gguf_kv(f, i, &key, &val) == 0 &&
		    !mrt_gguf_str_eq(key, "general.alignment") &&
		    !mrt_gguf_str_eq(key, "general.file_type"))
			rc = mrt_gguf_writer_copy_kv(w, f, i);
	if (rc == 0)
		rc = mrt_gguf_writer_set_u32(w, "general.file_type", llama_file_type(type));
	if (mrt_gguf_get_u64(f, "llama.block_count", &nl) == 0 && nl < 1u << 20)
		n_layer = (long)nl;
	for (i = 0; rc == 0 && i < mrt_gguf_n_tensors(f); i++) {
		if (mrt_gguf_tensor(f, i, &t) || t.name.len >= sizeof(name)) {
			snprintf(err, errlen, "tensor %llu: bad name", (unsigned long long)i);
			return MRT_ERR_FORMAT;
		}
		memcpy(name, t.name.ptr, t.name.len);
		name[t.name.len] = '\0';
		rc = requantize_tensor(&t, w, llama_tensor_type(name, t.ne[0], type, n_layer), allow,
		                       name, err, errlen);
		if (rc && !err[0])
			snprintf(err, errlen, "tensor '%s': cannot write", name);
	}
	return rc;
}

int convert_quantize_file(const char *in_path, const char *out_path, int type,
                          int allow_requantize, char *err, size_t errlen)
{
	mrt_gguf_writer *w = NULL;
	mrt_gguf_str arch;
	mrt_gguf *f;
	int rc;

	err[0] = '\0';
	int kq = is_kquant(type) || type == CONVERT_Q4_K_M || type == CONVERT_Q5_K_M;
	if (type != MRT_TYPE_F32 && type != MRT_TYPE_F16 && type != MRT_TYPE_Q8_0 &&
	    type != MRT_TYPE_Q4_0 && !kq) {
		snprintf(err, errlen,
		         "weight type %d is not one of f32, f16, q8_0, q4_0, q4_k, q5_k, q6_k, "
		         "q4_k_m, q5_k_m",
		         type);
		return MRT_ERR_INVALID;
	}
	f = mrt_gguf_open(in_path, err, errlen);
	if (!f)
		return MRT_ERR_FORMAT;
	w = mrt_gguf_writer_new();
	if (!w) {
		snprintf(err, errlen, "out of memory");
		rc = MRT_ERR_NOMEM;
		goto close_file;
	}
	if (mrt_gguf_get_str(f, "general.architecture", &arch)) {
		snprintf(err, errlen, "%s: no general.architecture", in_path);
		rc = MRT_ERR_FORMAT;
	} else if (mrt_gguf_str_eq(arch, MRT_GRAPH_ARCH) && kq) {
		snprintf(err, errlen, "%s: the k-quants are for llama files; graph files take f32, "
		         "f16, q8_0 or q4_0", in_path);
		rc = MRT_ERR_UNSUPPORTED;
	} else if (mrt_gguf_str_eq(arch, MRT_GRAPH_ARCH)) {
		rc = requantize_graph(f, w, type, allow_requantize, err, errlen);
	} else if (mrt_gguf_str_eq(arch, "llama")) {
		rc = requantize_llama(f, w, type, allow_requantize, err, errlen);
	} else {
		snprintf(err, errlen, "%s: architecture '%.*s' is not supported", in_path,
		         (int)arch.len, arch.ptr);
		rc = MRT_ERR_UNSUPPORTED;
	}
	if (rc == 0)
		rc = mrt_gguf_writer_write(w, out_path, err, errlen);
	mrt_gguf_writer_free(w);
close_file:
	mrt_gguf_close(f);
	return rc;
}
