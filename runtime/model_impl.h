/* Private to model.c and exec.c: the loaded graph model (immutable after
 * mrt_model_load) with every node's inputs and outputs resolved to value
 * ids. Values are numbered: graph inputs, then constants, then node outputs
 * in node order (so a node's outputs have consecutive ids). */
#ifndef MRT_MODEL_IMPL_H
#define MRT_MODEL_IMPL_H

#include "llama.h"
#include "ops.h"

struct mrt_model {
	int kind; /* enum mrt_model_kind */
	mrt_gguf *file;
	void *file_buf; /* the file read into memory when use_mmap is 0 */
	mrt__graph *graph;
	mrt__llama *llama; /* MRT_MODEL_LLAMA only (graph is NULL then) */
	uint64_t file_size, heap_bytes;
	char *tensor_types;

	int n_values;            /* inputs + constants + node outputs */
	int const_base;          /* id of constant 0 */
	mrt__value_info *values; /* symbolic shape and type of each value */
	const mrt__op_def **node_op;
	int *node_in_off; /* node i's input ids at in_ids[node_in_off[i]...] */
	int *in_ids;      /* -1 for an absent optional input */
	int *node_out0;   /* id of node i's first output */
	int *output_ids;  /* value id of each graph output */
	mrt_io_info *in_info, *out_info;
};

/* mrt_type of a run dtype and back; -1 when there is none. */
int mrt__type_of_dtype(int dtype);
int mrt__dtype_of_type(int type);

/* After a run: the context's arena bytes, the bytes all planned values
 * would need without reuse, and the nodes run per run (others folded). */
void mrt__ctx_stats(const mrt_ctx *c, size_t *arena_bytes, size_t *values_bytes, int *nodes_run);

/* The context's plan cache: plans made since mrt_ctx_new (cache misses),
 * plans held now and at most, allocations of the shared arena and scratch,
 * and their capacities in bytes. */
typedef struct mrt__plan_stats {
	int plans_made, plans_cached, plans_max, buffer_allocs;
	size_t arena_capacity, scratch_capacity;
} mrt__plan_stats;
void mrt__ctx_plan_stats(const mrt_ctx *c, mrt__plan_stats *st);

#endif
