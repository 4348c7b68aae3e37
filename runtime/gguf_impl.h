/* Private to the GGUF reader (gguf.c) and writer (gguf_write.c): what both
 * need to agree on about the file's value types. */
#ifndef MRT_GGUF_IMPL_H
#define MRT_GGUF_IMPL_H

#include <stdint.h>

/* Bytes of one scalar of value type vt (enum mrt_gguf_vtype) in the file:
 * 1, 2, 4 or 8; 0 for STRING and ARRAY (variable size); -1 for an unknown
 * type. */
int mrt__gguf_scalar_size(uint32_t vt);

#endif
