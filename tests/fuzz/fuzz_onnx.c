/* libFuzzer target for the ONNX decoder: any byte string either decodes or
 * is refused with a message; never a crash, overread or leak. */
#include "onnx.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	onnx_model *m = onnx_model_decode(data, size, err, sizeof(err));

	if (!m && !err[0])
		abort(); /* every refusal must say why */
	onnx_model_free(m);
	return 0;
}
