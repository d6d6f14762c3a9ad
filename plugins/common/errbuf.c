/* plugins/common: formatting the error-message out-buffer. */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int errbuf_printf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}
