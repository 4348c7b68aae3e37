/* Small internal helpers shared by runtime modules (not part of the public
 * API). */
#ifndef MRT_UTIL_H
#define MRT_UTIL_H

#include <stddef.h>

/* Formats a message into the caller's err buffer (when err is not NULL and
 * errlen > 0; truncated to fit, always NUL-terminated) and returns status
 * unchanged, so error paths read `return mrt__errf(err, errlen, rc, ...)`. */
int mrt__errf(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
