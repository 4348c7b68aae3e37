/* Loading a llama-architecture GGUF file as llama.cpp's converters write it:
 * the llama.* hyper-parameters (with llama.cpp's defaults), every tensor's
 * presence, type and shape checked against them, and mrt_llm_info_get().
 * mrt__llama_load leaves the weights in the file's map, nothing copied or
 * dequantized; mrt__llama_pack then reorders the matrices the kernels read
 * faster packed (kernels.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"
#include "llama.h"
#include "model_impl.h"
#include "util.h"

#define LLAMA_MAX_DIM (1 << 20) /* embedding, ffn and vocabulary sizes */
#define LLAMA_MAX_LAYERS 4096
#define LLAMA_MAX_HEADS 4096

/* Integer key into *out within [lo, hi]; def when absent and def >= 0,
 * else an error. */
static int get_int(const mrt_gguf *f, const char *key, int64_t def, int64_t lo, int64_t hi,
                   int *out, char *err, size_t errlen)
{
	int64_t v;

	if (mrt_gguf_find_kv(f, key) < 0) {
		if (def < 0)
			return mrt__errf(err, errlen, -1, "llama: key %s is missing", key);
		*out = (int)def;
		return 0;
	}
	if (mrt_gguf_get_i64(f, key, &v) != 0)
		return mrt__errf(err, errlen, -1, "llama: key %s is not an integer", key);
	if (v < lo || v > hi)
		return mrt__errf(err, errlen, -1, "llama: %s = %lld is out of range [%lld, %lld]",
		                 key, (long long)v, (long long)lo, (long long)hi);
	*out = (int)v;
	return 0;
}

static int get_float(const mrt_gguf *f, const char *key, float def, float *out, char *err,
                     size_t errlen)
{
	if (mrt_gguf_find_kv(f, key) < 0) {
		*out = def;
		return 0;
	}
	if (mrt_gguf_get_f32(f, key, out) != 0)
		return mrt__errf(err, errlen, -1, "llama: key %s is not a float", key);
	if (!(*out > 0.0f) || *out > 1e30f)
		return mrt__errf(err, errlen, -1, "llama: %s = %g must be positive and finite", key,
		                 (double)*out);
	return 0;
}

/* RoPE frequency scaling as llama.cpp applies it to llama files: none, or
 * linear (positions divided by llama.rope.scaling.factor; older files say
 * llama.rope.scale_linear). YaRN and the other schemes change more than the
 * frequencies and are refused by name. */
static int read_rope_scaling(mrt__llama *l, const mrt_gguf *f, char *err, size_t errlen)
{
	mrt_gguf_str type;
	float factor = 1.0f;

	l->rope_freq_scale = 1.0f;
	if (mrt_gguf_get_str(f, "llama.rope.scaling.type", &type) == 0 &&
	    !mrt_gguf_str_eq(type, "none")) {
		if (!mrt_gguf_str_eq(type, "linear"))
			return mrt__errf(err, errlen, -1,
					 "llama: rope.scaling.type \"%.*s\" is not supported "
					 "(none, linear)",
					 (int)(type.len > 32 ? 32 : type.len), type.ptr);
		if (get_float(f, "llama.rope.scaling.factor", 1.0f, &factor, err, errlen))
			return -1;
	} else if (get_float(f, "llama.rope.scale_linear", 1.0f, &factor, err, errlen)) {
		return -1;
	}
	l->rope_freq_scale = 1.0f / factor;
	return 0;
}

static int read_hparams(mrt__llama *l, const mrt_gguf *f, char *err, size_t errlen)
{
	mrt_gguf_value toks;

	if (get_int(f, "llama.context_length", -1, 1, INT32_MAX, &l->n_ctx_train, err, errlen) ||
	    get_int(f, "llama.embedding_length", -1, 1, LLAMA_MAX_DIM, &l->n_embd, err, errlen) ||
	    get_int(f, "llama.block_count", -1, 1, LLAMA_MAX_LAYERS, &l->n_layer, err, errlen) ||
	    get_int(f, "llama.feed_forward_length", -1, 1, LLAMA_MAX_DIM, &l->n_ff, err, errlen) ||
	    get_int(f, "llama.attention.head_count", -1, 1, LLAMA_MAX_HEADS, &l->n_head, err,
	            errlen) ||
	    get_int(f, "llama.attention.head_count_kv", l->n_head, 1, LLAMA_MAX_HEADS,
	            &l->n_head_kv, err, errlen))
		return -1;
	/* the head size: attention.key_length when the file gives it (it may
	 * differ from embedding_length / head_count), else that quotient */
	if (mrt_gguf_find_kv(f, "llama.attention.key_length") < 0 && l->n_embd % l->n_head != 0)
		return mrt__errf(err, errlen, -1,
		                 "llama: embedding_length %d is not divisible by head_count %d",
		                 l->n_embd, l->n_head);
	if (l->n_head % l->n_head_kv != 0)
		return mrt__errf(err, errlen, -1,
		                 "llama: head_count %d is not a multiple of head_count_kv %d",
		                 l->n_head, l->n_head_kv);
	int vlen;
	if (get_int(f, "llama.attention.key_length", l->n_embd / l->n_head, 1,
	            LLAMA_MAX_DIM / l->n_head, &l->head_dim, err, errlen) ||
	    get_int(f, "llama.attention.value_length", l->head_dim, 1, LLAMA_MAX_DIM, &vlen, err,
	            errlen))
		return -1;
	if (vlen != l->head_dim)
		return mrt__errf(err, errlen, -1,
		                 "llama: attention.value_length %d differs from key_length %d", vlen,
		                 l->head_dim);
	l->n_embd_q = l->head_dim * l->n_head;
	l->n_embd_kv = l->head_dim * l->n_head_kv;
	if (get_int(f, "llama.rope.dimension_count", l->head_dim, 0, l->head_dim, &l->n_rot, err,
	            errlen))
		return -1;
	if (l->n_rot % 2 != 0)
		return mrt__errf(err, errlen, -1, "llama: rope.dimension_count %d is odd",
		                 l->n_rot);
	if (get_float(f, "llama.rope.freq_base", 10000.0f, &l->rope_base, err, errlen) ||
	    get_float(f, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &l->norm_eps, err,
	              errlen))
		return -1;
	if (read_rope_scaling(l, f, err, errlen) != 0)
		return -1;
	l->n_vocab = 0;
	if (mrt_gguf_get_arr(f, "tokenizer.ggml.tokens", &toks) == 0 &&
	    toks.v.arr.n <= LLAMA_MAX_DIM)
		l->n_vocab = (int)toks.v.arr.n;
	return get_int(f, "llama.vocab_size", l->n_vocab ? l->n_vocab : 0, 0, LLAMA_MAX_DIM,
	               &l->n_vocab, err, errlen);
}

/* Tensor name into *w: a vector of ne0 F32 (ne1 == 0) or a matrix of ne1 rows
 * of ne0 elements of a type the linear kernels read. Returns 0, 1 when absent
 * and optional, -1 with a message otherwise. */
static int get_tensor(const mrt_gguf *f, const char *name, uint64_t ne0, uint64_t ne1, int optional,
                      mrt__lweight *w, char *err, size_t errlen)
{
	mrt_gguf_tensor_info ti;
	int64_t idx = mrt_gguf_find_tensor(f, name);
	uint32_t want_dims = ne1 ? 2 : 1;
	uint64_t rowb;

	if (idx < 0) {
		if (optional)
			return 1;
		return mrt__errf(err, errlen, -1, "llama: tensor '%s' is missing", name);
	}
	if (mrt_gguf_tensor(f, (uint64_t)idx, &ti) != 0)
		return mrt__errf(err, errlen, -1, "llama: tensor '%s' cannot be read", name);
	if (ti.n_dims != want_dims || ti.ne[0] != ne0 || (ne1 && ti.ne[1] != ne1)) {
		char got[96];
		int len = 0;
		for (uint32_t d = 0; d < ti.n_dims && d < 4; d++)
			len += snprintf(got + len, sizeof(got) - (size_t)len, "%s%llu",
			                d ? ", " : "", (unsigned long long)ti.ne[d]);
		if (ne1)
			return mrt__errf(err, errlen, -1,
			                 "llama: tensor '%s' has shape [%s], expected [%llu, %llu]",
			                 name, got, (unsigned long long)ne0,
			                 (unsigned long long)ne1);
		return mrt__errf(err, errlen, -1,
		                 "llama: tensor '%s' has shape [%s], expected [%llu]", name, got,
		                 (unsigned long long)ne0);
	}
	if (!ne1 && ti.type != MRT_TYPE_F32)
		return mrt__errf(
		    err, errlen, -1, "llama: tensor '%s' has type %s, expected f32", name,
		    mrt_type_get(ti.type).name ? mrt_type_get(ti.type).name : "unknown");
	if (ne1 && (!mrt_type_get(ti.type).can_dequantize || mrt_type_nbytes(ti.type, ne0, &rowb)))
		return mrt__errf(
		    err, errlen, -1, "llama: tensor '%s': type %s cannot be used for rows of %llu",
		    name, mrt_type_get(ti.type).name ? mrt_type_get(ti.type).name : "unknown",
		    (unsigned long long)ne0);
	w->data = ti.data;
	w->type = ti.type;
	return 0;
}

static int read_layer(mrt__llama *l, const mrt_gguf *f, int i, char *err, size_t errlen)
{
	mrt__llayer *y = &l->layers[i];
	mrt__lweight an, fn;
	uint64_t e = (uint64_t)l->n_embd, kv = (uint64_t)l->n_embd_kv, ff = (uint64_t)l->n_ff;
	uint64_t eq = (uint64_t)l->n_embd_q;
	char name[64];

#define LAYER_TENSOR(suffix, ne0, ne1, dst)                                                        \
	(snprintf(name, sizeof(name), "blk.%d." suffix ".weight", i),                              \
	 get_tensor(f, name, ne0, ne1, 0, dst, err, errlen))
	if (LAYER_TENSOR("attn_norm", e, 0, &an) || LAYER_TENSOR("attn_q", e, eq, &y->wq) ||
	    LAYER_TENSOR("attn_k", e, kv, &y->wk) || LAYER_TENSOR("attn_v", e, kv, &y->wv) ||
	    LAYER_TENSOR("attn_output", eq, e, &y->wo) || LAYER_TENSOR("ffn_norm", e, 0, &fn) ||
	    LAYER_TENSOR("ffn_gate", e, ff, &y->gate) || LAYER_TENSOR("ffn_up", e, ff, &y->up) ||
	    LAYER_TENSOR("ffn_down", ff, e, &y->down))
		return -1;
#undef LAYER_TENSOR
	y->attn_norm = an.data;
	y->ffn_norm = fn.data;
	return 0;
}

/* NUL-terminated copy of a string key, or NULL (and *ok kept) when absent. */
static char *dup_str(const mrt_gguf *f, const char *key, int *ok)
{
	mrt_gguf_str s;
	char *c;

	if (mrt_gguf_get_str(f, key, &s) != 0 || s.len >= SIZE_MAX)
		return NULL;
	if ((c = malloc((size_t)s.len + 1)) == NULL) {
		*ok = 0;
		return NULL;
	}
	memcpy(c, s.ptr, (size_t)s.len);
	c[s.len] = '\0';
	return c;
}

static int read_tokenizer_info(mrt__llama *l, const mrt_gguf *f)
{
	int64_t v;
	int ok = 1;

	l->tokenizer_model = dup_str(f, "tokenizer.ggml.model", &ok);
	l->chat_template = dup_str(f, "tokenizer.chat_template", &ok);
	l->bos =
	    mrt_gguf_get_i64(f, "tokenizer.ggml.bos_token_id", &v) == 0 && v >= 0 && v < l->n_vocab
	        ? (int32_t)v
	        : -1;
	l->eos =
	    mrt_gguf_get_i64(f, "tokenizer.ggml.eos_token_id", &v) == 0 && v >= 0 && v < l->n_vocab
	        ? (int32_t)v
	        : -1;
	int64_t idx = mrt_gguf_find_kv(f, "tokenizer.ggml.add_bos_token");
	mrt_gguf_str key;
	mrt_gguf_value val;
	if (idx >= 0 && mrt_gguf_kv(f, (uint64_t)idx, &key, &val) == 0 && val.type == MRT_GGUF_BOOL)
		l->add_bos = val.v.b != 0;
	else
		l->add_bos = l->tokenizer_model == NULL || strcmp(l->tokenizer_model, "llama") == 0;
	idx = mrt_gguf_find_kv(f, "tokenizer.ggml.add_eos_token");
	l->add_eos = idx >= 0 && mrt_gguf_kv(f, (uint64_t)idx, &key, &val) == 0 &&
	             val.type == MRT_GGUF_BOOL && val.v.b != 0;
	return ok ? 0 : -1;
}

static uint64_t count_params(const mrt_gguf *f)
{
	mrt_gguf_tensor_info ti;
	uint64_t n = 0;

	for (uint64_t i = 0; i < mrt_gguf_n_tensors(f); i++)
		if (mrt_gguf_tensor(f, i, &ti) == 0) {
			uint64_t e = 1;
			for (uint32_t d = 0; d < ti.n_dims && d < 4; d++)
				e *= ti.ne[d];
			n += e;
		}
	return n;
}

/* The optional rope_freqs.weight: n_rot / 2 F32 divisors of the rotation
 * frequencies (Llama 3.1 and later), each positive and finite. */
static int read_rope_freqs(mrt__llama *l, const mrt_gguf *f, char *err, size_t errlen)
{
	mrt__lweight w;
	int rc = get_tensor(f, "rope_freqs.weight", (uint64_t)l->n_rot / 2, 0, 1, &w, err, errlen);

	l->rope_freqs = NULL;
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	const float *ff = w.data;
	for (int i = 0; i < l->n_rot / 2; i++)
		if (!(ff[i] > 0.0f) || ff[i] > 1e30f)
			return mrt__errf(err, errlen, -1,
					 "llama: rope_freqs.weight[%d] = %g must be positive and "
					 "finite",
					 i, (double)ff[i]);
	l->rope_freqs = ff;
	return 0;
}

mrt__llama *mrt__llama_load(const mrt_gguf *f, char *err, size_t errlen)
{
	mrt__llama *l = calloc(1, sizeof(*l));
	mrt__lweight onorm;
	uint64_t e, v;
	int rc;

	if (l == NULL) {
		mrt__errf(err, errlen, -1, "out of memory");
		return NULL;
	}
	if (read_hparams(l, f, err, errlen) != 0)
		goto fail;
	if (l->n_vocab == 0) {
		mrt_gguf_tensor_info ti;
		int64_t idx = mrt_gguf_find_tensor(f, "token_embd.weight");
		if (idx >= 0 && mrt_gguf_tensor(f, (uint64_t)idx, &ti) == 0 && ti.n_dims == 2 &&
		    ti.ne[1] >= 1 && ti.ne[1] <= LLAMA_MAX_DIM)
			l->n_vocab = (int)ti.ne[1];
	}
	if (l->n_vocab == 0) {
		mrt__errf(err, errlen, -1,
		          "llama: vocabulary size unknown (no llama.vocab_size, "
		          "tokenizer.ggml.tokens or token_embd.weight)");
		goto fail;
	}
	e = (uint64_t)l->n_embd;
	v = (uint64_t)l->n_vocab;
	if (get_tensor(f, "token_embd.weight", e, v, 0, &l->tok_embd, err, errlen) ||
	    get_tensor(f, "output_norm.weight", e, 0, 0, &onorm, err, errlen) ||
	    (rc = get_tensor(f, "output.weight", e, v, 1, &l->output, err, errlen)) < 0)
		goto fail;
	if (rc == 1)
		l->output = l->tok_embd; /* tied embeddings */
	if (read_rope_freqs(l, f, err, errlen) != 0)
		goto fail;
	l->output_norm = onorm.data;
	if ((l->layers = calloc((size_t)l->n_layer, sizeof(*l->layers))) == NULL) {
		mrt__errf(err, errlen, -1, "out of memory");
		goto fail;
	}
	for (int i = 0; i < l->n_layer; i++)
		if (read_layer(l, f, i, err, errlen) != 0)
			goto fail;
	if (read_tokenizer_info(l, f) != 0) {
		mrt__errf(err, errlen, -1, "out of memory");
		goto fail;
	}
	/* A file without tokenizer keys still decodes token ids; one with
	 * them must have a tokenizer we can build. */
	if (l->tokenizer_model != NULL && (l->tok = mrt__tokenizer_load(f, err, errlen)) == NULL)
		goto fail;
	l->n_params = count_params(f);
	return l;
fail:
	mrt__llama_free(l);
	return NULL;
}

/* The matrices mrt__llama_pack may reorder, with their rows and columns;
 * returns the count (at most 7 a layer and the output). */
static int pack_list(mrt__llama *l, mrt__lweight **w, int64_t *rows, int64_t *cols)
{
	int n = 0;
	int64_t e = l->n_embd, eq = l->n_embd_q, kv = l->n_embd_kv, ff = l->n_ff;
	for (int i = 0; i < l->n_layer; i++) {
		mrt__llayer *y = &l->layers[i];
		mrt__lweight *lw[] = {&y->wq, &y->wk, &y->wv, &y->wo, &y->gate, &y->up, &y->down};
		int64_t r[] = {eq, kv, kv, e, ff, ff, e}, c[] = {e, e, e, eq, e, e, ff};
		for (int j = 0; j < 7; j++, n++)
			w[n] = lw[j], rows[n] = r[j], cols[n] = c[j];
	}
	if (l->output.data != l->tok_embd.data) /* tied: the embedding rows are read as rows */
		w[n] = &l->output, rows[n] = l->n_vocab, cols[n] = e, n++;
	return n;
}

#define PACK_SLICE ((size_t)2 << 20)

/* Copies of the norm weights (and rope_freqs) in the model's own memory,
 * made before the matrices around them in the map are given back: a read
 * of the map maps the whole large folio of the page cache around the page
 * (Linux 6.x), so reading the norms from the map later took 28 MB of
 * given-back weights of the 110M Q8_0 file back into the process on the
 * first prompt. Left in the map when there is no memory for them. */
static void own_vectors(mrt__llama *l)
{
	size_t e = (size_t)l->n_embd, nr = l->rope_freqs ? (size_t)l->n_rot / 2 : 0;
	float *v = malloc(((size_t)l->n_layer * 2 + 1) * e * sizeof(float) + nr * sizeof(float));
	if (v == NULL)
		return;
	l->vectors = v;
	for (int i = 0; i < l->n_layer; i++) {
		memcpy(v, l->layers[i].attn_norm, e * sizeof(float));
		l->layers[i].attn_norm = v;
		memcpy(v + e, l->layers[i].ffn_norm, e * sizeof(float));
		l->layers[i].ffn_norm = v + e;
		v += 2 * e;
	}
	memcpy(v, l->output_norm, e * sizeof(float));
	l->output_norm = v;
	if (nr) {
		memcpy(v + e, l->rope_freqs, nr * sizeof(float));
		l->rope_freqs = v + e;
	}
}

size_t mrt__llama_pack(mrt__llama *l, const mrt_gguf *f)
{
	size_t cap = (size_t)l->n_layer * 7 + 1, total = 0, off = 0;
	mrt__lweight **w = malloc(cap * sizeof(*w));
	int64_t *rows = malloc(cap * sizeof(*rows)), *cols = malloc(cap * sizeof(*cols));
	int n = 0, mapped = mrt_gguf_is_mapped(f);
	uint64_t rb;
	if (w && rows && cols)
		n = pack_list(l, w, rows, cols);
	for (int i = 0; i < n; i++)
		if (mrt__pack_ok(w[i]->type, rows[i], cols[i]) &&
		    mrt_type_nbytes(w[i]->type, (uint64_t)cols[i], &rb) == 0)
			total += ((size_t)rb * (size_t)rows[i] + 63) & ~(size_t)63;
	if (total && mapped) {
		const size_t huge = (size_t)2 << 20;
		if (posix_memalign(&l->packed, huge, total) != 0)
			l->packed = NULL, total = 0;
#ifdef MADV_HUGEPAGE
		else
			madvise(l->packed, total, MADV_HUGEPAGE); /* a hint: the weights stream
			                                             through fewer TLB entries */
#endif
	}
	if (total && mapped) { /* what stays in the map first, then the packing
		                  gives back what its folios took along */
		own_vectors(l);
		if (mrt_type_nbytes(l->tok_embd.type, (uint64_t)l->n_embd, &rb) == 0)
			(void)mrt_gguf_populate_range(f, l->tok_embd.data,
			                              rb * (uint64_t)l->n_vocab);
		for (int i = 0; i < n; i++)
			if (!mrt__pack_ok(w[i]->type, rows[i], cols[i]) &&
			    mrt_type_nbytes(w[i]->type, (uint64_t)cols[i], &rb) == 0)
				(void)mrt_gguf_populate_range(f, w[i]->data,
				                              rb * (uint64_t)rows[i]);
	}
	for (int i = 0; i < n && total; i++) {
		if (!mrt__pack_ok(w[i]->type, rows[i], cols[i]) ||
		    mrt_type_nbytes(w[i]->type, (uint64_t)cols[i], &rb) != 0)
			continue;
		size_t bytes = (size_t)rb * (size_t)rows[i];
		const char *src = w[i]->data;
		char *dst =
		    mapped ? (char *)l->packed + off : (char *)src; /* a heap copy: in place */
		/* slices of about PACK_SLICE bytes (whole groups), each dropped from
		 * the map once packed: the process holds one matrix twice only a
		 * slice at a time (a 26 MB Q8_0 output matrix whole: 29 MB more at
		 * the peak) */
		int64_t step =
		    (int64_t)(PACK_SLICE / ((size_t)rb * MRT__PACK_ROWS)) * MRT__PACK_ROWS;
		int rc = 0;
		if (step < MRT__PACK_ROWS || !mapped) /* in place: all or nothing */
			step = step < MRT__PACK_ROWS ? MRT__PACK_ROWS : rows[i];
		for (int64_t r = 0; r < rows[i] && rc == 0; r += step) {
			int64_t nr = rows[i] - r < step ? rows[i] - r : step;
			size_t at = (size_t)rb * (size_t)r, len = (size_t)rb * (size_t)nr;
			if (mapped)
				(void)mrt_gguf_populate_range(f, src + at, len);
			if ((rc = mrt__pack(w[i]->type, src + at, dst + at, nr, cols[i])) == 0 &&
			    mapped)
				(void)mrt_gguf_drop_range(f, src + at, len);
		}
		if (rc != 0) /* no memory for a group (mrt__pack fails before writing): the
		                rest stays in place; the map still holds every byte */
			break;
		w[i]->data = dst;
		w[i]->type |= MRT__PACKED;
		if (mapped) { /* and the pages the slices shared */
			(void)mrt_gguf_drop_range(f, src, bytes);
			off += (bytes + 63) & ~(size_t)63;
		}
	}
	l->packed_bytes = off;
	if (mapped && off == 0)
		(void)mrt_gguf_populate(f);
	else if (mapped) /* a matrix left in place (no memory to pack it) */
		for (int i = 0; i < n; i++)
			if (!(w[i]->type & MRT__PACKED) &&
			    mrt_type_nbytes(w[i]->type, (uint64_t)cols[i], &rb) == 0)
				(void)mrt_gguf_populate_range(f, w[i]->data,
				                              rb * (uint64_t)rows[i]);
	free(w), free(rows), free(cols);
	return mapped ? off : total;
}

void mrt__llama_free(mrt__llama *l)
{
	if (l == NULL)
		return;
	free(l->packed);
	free(l->vectors);
	free(l->layers);
	mrt__tokenizer_free(l->tok);
	free(l->tokenizer_model);
	free(l->chat_template);
	free(l);
}

const mrt__llama *mrt__model_llama(const mrt_model *model)
{
	return model && model->kind == MRT_MODEL_LLAMA ? model->llama : NULL;
}

const mrt__tokenizer *mrt__model_tokenizer(const mrt_model *model)
{
	const mrt__llama *l = mrt__model_llama(model);
	return l ? l->tok : NULL;
}

int mrt_llm_info_get(const mrt_model *model, mrt_llm_info *info)
{
	const mrt__llama *l = mrt__model_llama(model);

	if (l == NULL || info == NULL)
		return MRT_ERR_INVALID;
	memset(info, 0, sizeof(*info));
	info->n_vocab = l->n_vocab;
	info->n_ctx_train = l->n_ctx_train;
	info->n_embd = l->n_embd;
	info->n_layer = l->n_layer;
	info->n_head = l->n_head;
	info->n_head_kv = l->n_head_kv;
	info->n_ff = l->n_ff;
	info->bos = l->bos;
	info->eos = l->eos;
	info->add_bos = l->add_bos;
	info->add_eos = l->add_eos;
	info->tokenizer_model = l->tokenizer_model;
	info->chat_template = l->chat_template;
	info->n_params = l->n_params;
	return 0;
}
