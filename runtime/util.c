/* Small internal helpers shared by runtime modules: see util.h. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

int mrt__errf(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}
