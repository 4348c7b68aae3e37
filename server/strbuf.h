/* A growing NUL-terminated string for building texts: after a failed
 * allocation (or a size past SIZE_MAX / 2) it takes nothing more and says
 * so in failed; p is then the caller's to free as it is. */
#ifndef SRV_STRBUF_H
#define SRV_STRBUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct srv_strbuf {
	char *p;
	size_t n, cap;
	int failed;
} srv_strbuf;

static inline void srv_strbuf_put(srv_strbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (n > SIZE_MAX / 2 - b->n) {
		b->failed = 1;
		return;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = 2 * (b->n + n) + 64;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

#endif
