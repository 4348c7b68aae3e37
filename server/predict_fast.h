/* The fast path for the most common predict body, one JSON object holding
 * only "model" (a plain string) and "inputs" or "instances" (nested lists of
 * numbers) for a model with one float32 input, and for its answer. It works
 * straight between text and tensors, without a JSON tree, and gives exactly
 * what the codec gives. Every other body, and every body it would refuse, is
 * left to the general path, which owns all error messages. */
#ifndef SRV_PREDICT_FAST_H
#define SRV_PREDICT_FAST_H

#include <stddef.h>

#include "codec.h"
#include "mrt.h"

/* What srv_fast_scan found: the model name (borrowed from the body) and the
 * list of numbers, already decoded. */
typedef struct srv_fast_body {
	const char *model; /* the "model" string (no escapes), NULL when absent */
	size_t model_len;
	int used_instances; /* the list came as "instances" */
	int ndim;           /* nesting depth of the numbers: 2 for [[1, 2], [3, 4]] */
	int64_t dims[MRT_MAX_DIMS]; /* list lengths per depth; dims[0] the batch */
	float *data;                /* new: ndim-rectangular numbers, row-major */
} srv_fast_body;

/* Scan body[0, len) and decode its list: 0 with *fb (OUT) filled when the
 * body has the simple shape above with a rectangular, non-empty list of
 * numbers srv_fast_number takes (release with srv_fast_body_free unless
 * srv_fast_inputs took the data); -1 when not (use the general path; nothing
 * to release). One pass: the list is decoded while it is found. */
int srv_fast_scan(const char *body, size_t len, srv_fast_body *fb);
void srv_fast_body_free(srv_fast_body *fb);

/* One JSON number at *p (before end) into *out as the general path stores it
 * in a float32 tensor: integers through int64, reals through strtod, then
 * (float). 0 with *p advanced past it, or -1 when the text is not a JSON
 * number or must be left to the general path (more than 18 integer or 19
 * significant digits, a 6-digit exponent, a value that is not finite as a
 * double or a float). */
int srv_fast_number(const char **p, const char *end, float *out);

/* The decoded list of fb as the inputs of model in *out (OUT; free with
 * codec_inputs_free): 1 when the model takes one float32 input of fixed
 * shape past the batch and the list has that shape (fb->data taken over), 0
 * when not (fb untouched: the general path decides and words the error), -1
 * when out of memory. */
int srv_fast_inputs(const mrt_model *model, srv_fast_body *fb, codec_inputs *out);

/* The answer body for rows [row0, row0 + rows) of a model's only output,
 * byte for byte what codec_predict_body(model_name, codec_outputs_json(...),
 * used_instances) writes, without a JSON tree. Returns a new string, or NULL
 * when the output is not float32 or the name needs escaping (use the codec)
 * or memory ran out. */
char *srv_fast_outputs_body(const char *model_name, int used_instances, const mrt_tensor *out,
			    int64_t row0, int64_t rows);

#endif
