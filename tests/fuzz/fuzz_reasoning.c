/* libFuzzer target for the reasoning splitter (server/reasoning.c): the
 * input's first byte chooses whether the prompt left a <think> open and
 * how the answer arrives (pieces of 1-8 bytes from a small generator); the
 * rest is the answer. Fed in growing prefixes, what may be sent must only
 * grow and keep its start, and at the end must equal the split of the whole
 * answer at once. Never a crash, overread or disagreement. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reasoning.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int open = data[0] & 1;
	uint32_t step = data[0] >> 1 | 1;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	srv_think t, whole;
	size_t r0 = 0, r1 = 0, c0 = 0, c1 = 0;
	int r_on = 0, c_on = 0;

	srv_think_init(&t, open);
	for (size_t n = 0;;) {
		int final = n == len;
		srv_think_update(&t, text, n, final);
		if (!(t.r0 <= t.r1 && t.r1 <= n && t.c0 <= t.c1 && t.c1 <= n))
			abort();
		if (t.r1 > t.r0) {
			if (r_on && (t.r0 != r0 || t.r1 < r1))
				abort();
			r_on = 1, r0 = t.r0, r1 = t.r1;
		}
		if (t.c1 > t.c0) {
			if (c_on && (t.c0 != c0 || t.c1 < c1))
				abort();
			c_on = 1, c0 = t.c0, c1 = t.c1;
		}
		if (final)
			break;
		step = step * 1103515245u + 12345u;
		n += 1 + (step >> 16) % 8;
		if (n > len)
			n = len;
	}
	srv_think_init(&whole, open);
	srv_think_update(&whole, text, len, 1);
	if (whole.state != t.state || (r_on ? r1 - r0 : 0) != whole.r1 - whole.r0 ||
	    (c_on ? c1 - c0 : 0) != whole.c1 - whole.c0 ||
	    (r_on && (r0 != whole.r0 || r1 != whole.r1)) ||
	    (c_on && (c0 != whole.c0 || c1 != whole.c1)))
		abort();
	return 0;
}
