/* The fast path for the most common predict body: one JSON object holding
 * only "model" (a plain string) and "inputs" or "instances" (nested lists of
 * numbers) for a model with one float32 input. It decodes straight from the
 * text into the tensor, without building a JSON tree, and yields exactly the
 * floats codec_parse_predict would. Every other body, and every body it
 * would refuse, is left to the general path, which owns all error messages. */
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

/* Decode the list of fb for model into *out (OUT; free with
 * codec_inputs_free). Returns 1 when decoded, 0 when the body is not one the
 * fast path decodes (other input layouts, a shape or value the general path
 * must refuse, numbers it does not round itself), -1 when out of memory. */
int srv_fast_inputs(const mrt_model *model, const srv_fast_body *fb, codec_inputs *out);

#endif
