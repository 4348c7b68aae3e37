/* libFuzzer target for JSON-constrained output: the input is a JSON Schema,
 * a NUL byte, then a text. The schema is compiled (a refusal must say why);
 * the text is fed a byte at a time through srv_schema_try/feed and through
 * the plain JSON-object automaton. Never a crash, overread, leak or
 * disagreement between trying a byte and feeding it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_schema.h"
#include "mrt_llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	const char *text = nul ? (const char *)nul + 1 : "";
	size_t tlen = nul ? size - slen - 1 : 0;
	json_error_t je;
	json_t *js = json_loadb((const char *)data, slen, 0, &je);
	mrt_json_state plain;
	mrt_json_init(&plain);
	for (size_t i = 0; i < tlen; i++)
		if (mrt_json_feed(&plain, text + i, 1) != 0)
			break;
	if (!js)
		return 0;
	char err[256] = "";
	srv_schema *s = srv_schema_compile(js, err, sizeof(err));
	json_decref(js);
	if (!s) {
		if (!err[0])
			abort(); /* every refusal must say why */
		return 0;
	}
	srv_schema_state st;
	srv_schema_start(&st, s);
	for (size_t i = 0; i < tlen; i++) {
		int ok = srv_schema_try(&st, text + i, 1);
		if (ok != (srv_schema_feed(&st, text + i, 1) == 0))
			abort();
		if (!ok)
			break;
	}
	srv_schema_free(s);
	return 0;
}
