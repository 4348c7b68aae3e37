/* JSON codec of the predict bodies: request JSON -> input tensors, output
 * tensors -> response JSON. Shared by the daemon and `modelctl predict`, so
 * both answer byte for byte the same. */
#ifndef CODEC_H
#define CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mrt.h"

/* Why a request was refused: an HTTP status, a short machine code
 * ("invalid_json", "invalid_shape", "invalid_dtype", "unknown_input",
 * "missing_input", "invalid_request", "out_of_range") and a message such as
 * "input 'x': expected [*,10], got [2,9]". */
typedef struct codec_error {
	int status;
	char code[32];
	char message[512];
} codec_error;

/* Set *e (OUT) and return -1; printf-style message. */
int codec_fail(codec_error *e, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A failed mrt_run() (negative mrt_status and its message) as a refusal:
 * shape, dtype, range and argument errors are the client's (400
 * invalid_shape / invalid_dtype / out_of_range / invalid_request), anything
 * else is 500 "internal". Sets *e (OUT) and returns -1. */
int codec_fail_run(codec_error *e, int status, const char *message);

/* Decoded inputs of one request: one dense tensor per model input, in the
 * model's input order, every one with the same batch size. Owns its buffers. */
typedef struct codec_inputs {
	int n;              /* == mrt_model_n_inputs() */
	mrt_tensor *t;      /* n tensors; names borrowed from the model */
	int64_t batch;      /* instances in the request (dims[0] of each) */
	int used_instances; /* 1 when the body said "instances": answer "predictions" */
	int64_t k;          /* request "k": rows of top-k outputs cut to k; 0 = all */
} codec_inputs;

/* Parse a predict body against the model's declared inputs.
 * Accepted forms:
 *   {"inputs": [inst, ...]}            single-input model, one entry per instance
 *   {"inputs": {"name": [inst, ...]}}  several (or one) named inputs
 *   {"instances": [...]}               alias of "inputs"; also a list of
 *                                      per-instance objects {"name": value}
 * An instance is a nested list (or a scalar for inputs of shape [*]).
 * Inputs of int64/int32 dtype take JSON integers; float inputs take numbers.
 * Recommendation forms (models/RECSYS.md):
 *   - an input declared [*,-1] with a pad id (mrt_model_input_pad) takes
 *     ragged id lists, padded with that id to the longest (at least 1);
 *   - an input given for one instance while others have N is repeated N
 *     times (user features sent once are broadcast to every candidate);
 *   - an optional input (mrt_model_input_optional) may be omitted: it is
 *     passed as an empty [B,0] tensor;
 *   - ids that index an embedding table are checked against its rows
 *     (400 out_of_range naming the input);
 *   - a top-level "k" (1 <= k <= the model's k, the fixed second dim of its
 *     outputs) sets out->k.
 * Other top-level keys ("model", "parameters", ...) are ignored here.
 * Returns 0 with *out (OUT) filled, or -1 with *e filled (status 400). */
int codec_parse_predict(const mrt_model *model, const json_t *body, codec_inputs *out,
			codec_error *e);
void codec_inputs_free(codec_inputs *in);

/* JSON for rows [row0, row0 + rows) of the batch dimension of the outputs
 * (an array of mrt_model_n_outputs() tensors):
 * one output -> a list with one entry per instance; several outputs -> an
 * object {"name": list, ...}. Float values are printed with enough digits to
 * round-trip a float32. Returns a new reference or NULL on allocation failure. */
json_t *codec_outputs_json(const mrt_model *model, const mrt_tensor *outputs, int64_t row0,
			   int64_t rows);

/* As codec_outputs_json, keeping only the first k entries of each row of
 * 2-D outputs when k > 0 (a request's "k", codec_inputs.k). */
json_t *codec_outputs_json_k(const mrt_model *model, const mrt_tensor *outputs, int64_t row0,
			     int64_t rows, int64_t k);

/* The whole answer body {"model": name, "outputs"|"predictions": ...}
 * (name omitted when NULL). Takes over the reference to outputs_json.
 * Returns a new string (free()) or NULL. */
char *codec_predict_body(const char *model_name, json_t *outputs_json, int used_instances);

/* Error body {"error": {"code": ..., "message": ...}}; new string (free()). */
char *codec_error_body(const codec_error *e);

/* "[*,10]" style rendering of dims (-1 as '*') into buf. */
void codec_dims_str(const int64_t *dims, int ndim, char *buf, size_t buflen);

#endif
