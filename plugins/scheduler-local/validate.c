/* scheduler-local: checks on what callers send, made before any of it goes
 * into a container name, a label filter, a URL or a container's environment. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_local.h"

#include <string.h>

bool sl_valid_app(const char *app)
{
	size_t n = app ? strlen(app) : 0;

	if (n == 0 || n > 63 || !(app[0] >= 'a' && app[0] <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = app[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool env_key_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

bool sl_valid_env_key(const char *key)
{
	if (!key || !env_key_char(key[0], true))
		return false;
	for (const char *p = key + 1; *p; p++)
		if (!env_key_char(*p, false))
			return false;
	return true;
}

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
