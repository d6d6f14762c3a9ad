/* libnap: the environment check shared by napc, napd and the plugins
 * (see nap/env.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <nap/env.h>
#include <nap/limits.h>
#include <nap/names.h>

/* Bytes of the UTF-8 sequence at p (1 to 4), or 0 if p does not start one:
 * overlong forms, surrogates and values past Unicode are not UTF-8. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = *p, need, min;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		need = 1, min = 0x80, cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		need = 2, min = 0x800, cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		need = 3, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need + 1;
}

bool nap_utf8_valid(const char *s)
{
	if (!s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_seq(p);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

size_t nap_utf8_repair(char *s)
{
	size_t fixed = 0;
	for (unsigned char *p = (unsigned char *)s; p && *p;) {
		size_t n = utf8_seq(p);
		if (n == 0) {
			*p++ = '?';
			fixed++;
		} else {
			p += n;
		}
	}
	return fixed;
}

void nap_env_key_why(const char *k, char *why, size_t whylen)
{
	if (k && strchr(k, '=')) { /* a client that sent KEY=VALUE as the name */
		snprintf(why, whylen,
			 "an environment variable name contains '=' (not shown: what follows "
			 "may be a secret); send the value in its own field");
		return;
	}
	snprintf(why, whylen,
		 "'%.64s%s' is not an environment variable name: 1 to %u letters, digits and "
		 "'_', not starting with a digit (NAP_ENV_KEY_MAX)",
		 k ? k : "", k && strlen(k) > 64 ? "..." : "", (unsigned)NAP_ENV_KEY_MAX);
}

bool nap_env_valid(Nap__EnvVar *const *vars, size_t n, char *why, size_t whylen)
{
	size_t total = 0;

	if (n > NAP_ENV_COUNT_MAX) {
		snprintf(
			why, whylen,
			"%zu environment variables is more than the limit of %u (NAP_ENV_COUNT_MAX)",
			n, NAP_ENV_COUNT_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = vars[i]->key, *v = vars[i]->value ? vars[i]->value : "";
		size_t vlen = strlen(v);

		if (!nap_env_key_valid(k)) {
			nap_env_key_why(k, why, whylen);
			return false;
		}
		if (vlen > NAP_ENV_VALUE_MAX) {
			snprintf(why, whylen,
				 "the value of %s is %zu bytes, more than the limit of %u "
				 "(NAP_ENV_VALUE_MAX)",
				 k, vlen, NAP_ENV_VALUE_MAX);
			return false;
		}
		if (!nap_utf8_valid(v)) {
			snprintf(why, whylen, "the value of %s is not valid UTF-8", k);
			return false;
		}
		total += strlen(k) + 1 + vlen;
	}
	if (total > NAP_ENV_TOTAL_MAX) {
		snprintf(why, whylen,
			 "the environment would take %zu bytes as KEY=VALUE strings, more than the "
			 "limit of %u (NAP_ENV_TOTAL_MAX)",
			 total, NAP_ENV_TOTAL_MAX);
		return false;
	}
	return true;
}
