/* plugins/common: the error-message out-buffer every function here takes.
 *
 * Functions that can fail take (char *err, size_t errlen): on failure they
 * write one line for the user into it (NUL-terminated, truncated to fit); on
 * success they leave it alone. err may be NULL or errlen 0 to get no message.
 * A nap_error's message[] member is a suitable buffer. */
#ifndef NAP_PLUGIN_COMMON_ERRBUF_H
#define NAP_PLUGIN_COMMON_ERRBUF_H

#include <stddef.h>

/* Formats into err (see above). Returns ret, so callers can write
 * `return errbuf_printf(err, errlen, -EINVAL, "bad name %s", name);`. */
int errbuf_printf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
