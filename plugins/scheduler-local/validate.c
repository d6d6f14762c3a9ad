/* scheduler-local: checks on what callers send, made before any of it goes
 * into a container name, a label filter, a URL or a container's environment. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <string.h>


bool sl_valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p++;
		unsigned need, min;
		unsigned long cp;

		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		for (; need > 0; need--, p++) {
			if ((*p & 0xc0) != 0x80)
				return false; /* also stops at the NUL */
			cp = (cp << 6) | (*p & 0x3f);
		}
		/* Overlong forms, surrogates and values past Unicode are not UTF-8. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
	}
	return true;
}
