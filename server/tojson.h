/* JSON text as the chat templates' tojson writes it: Python's json.dumps
 * with ensure_ascii=False (transformers' filter), so that a tool's schema,
 * a past call's arguments and the like reach the prompt as the model saw
 * them in training. jansson writes reals with 17 digits (0.1 becomes
 * 0.10000000000000001) and control characters in upper-case hex; Python
 * writes the shortest text that reads back as the same double (0.1) and
 * lower-case hex. */
#ifndef SRV_TOJSON_H
#define SRV_TOJSON_H

#include <jansson.h>

enum srv_tojson_style {
	SRV_TOJSON_FLAT,    /* json.dumps(v): ", " and ": " */
	SRV_TOJSON_INDENT4, /* json.dumps(v, indent=4): "," and ": ", a line an item */
	SRV_TOJSON_COMPACT  /* json.dumps(v, separators=(",", ":")) */
};

/* v's text in the style; a new NUL-terminated string (free()), or NULL when
 * out of memory or v is NULL or nests deeper than 2048. */
char *srv_tojson(const json_t *v, int style);

/* Python's repr of a finite double (its json.dumps text): the shortest
 * digits that read back as x, positional when the decimal exponent is in
 * [-4, 16), else d.ddde+XX. buf holds at least 32 bytes. Returns buf. */
char *srv_py_float(double x, char *buf);

#endif
