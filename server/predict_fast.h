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

/* What srv_fast_scan found; pointers borrow the body. */
typedef struct srv_fast_body {
	const char *model; /* the "model" string (no escapes), NULL when absent */
	size_t model_len;
	const char *value; /* the '[' that opens the "inputs"/"instances" list */
	const char *end;   /* end of the body */
	int used_instances;
} srv_fast_body;

/* Scan body[0, len): 0 with *fb (OUT) filled when the body has the simple
 * shape above, -1 when it does not (use the general path). */
int srv_fast_scan(const char *body, size_t len, srv_fast_body *fb);

/* One JSON number at *p (before end) into *out as the general path stores it
 * in a float32 tensor: integers through int64, reals through strtod, then
 * (float). 0 with *p advanced past it, or -1 when the text is not a JSON
 * number or must be left to the general path (more than 18 integer or 19
 * significant digits, a 6-digit exponent, a value that is not finite as a
 * double or a float). */
int srv_fast_number(const char **p, const char *end, float *out);

/* Decode the list of fb for model into *out (OUT; free with
 * codec_inputs_free). Returns 1 when decoded, 0 when the body is not one the
 * fast path decodes (other input layouts, a shape or value the general path
 * must refuse, numbers it does not round itself), -1 when out of memory. */
int srv_fast_inputs(const mrt_model *model, const srv_fast_body *fb, codec_inputs *out);

/* The answer body for rows [row0, row0 + rows) of a model's only output,
 * byte for byte what codec_predict_body(model_name, codec_outputs_json(...),
 * used_instances) writes, without a JSON tree. Returns a new string, or NULL
 * when the output is not float32 or the name needs escaping (use the codec)
 * or memory ran out. */
char *srv_fast_outputs_body(const char *model_name, int used_instances, const mrt_tensor *out,
			    int64_t row0, int64_t rows);

#endif
