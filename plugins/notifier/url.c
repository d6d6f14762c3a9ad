/* notifier: webhook URLs (see url.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of the "http://" or "https://" prefix, or 0 for another scheme. */
static size_t scheme_len(const char *url)
{
	if (strncasecmp(url, "http://", 7) == 0)
		return 7;
	if (strncasecmp(url, "https://", 8) == 0)
		return 8;
	return 0;
}

/* The authority ends at the first '/', '?' or '#'. */
static size_t authority_len(const char *s)
{
	return strcspn(s, "/?#");
}

bool webhook_url_valid(const char *url)
{
	size_t skip = scheme_len(url), alen;
	const char *auth, *at;

	if (skip == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	auth = url + skip;
	alen = authority_len(auth);
	/* The host follows any userinfo: it must not be empty. */
	at = memrchr(auth, '@', alen);
	if (at)
		alen -= (size_t)(at + 1 - auth), auth = at + 1;
	return alen > 0 && auth[0] != ':';
}

/* Length of a "scheme://" prefix of any scheme, or 0 if there is none. */
static size_t any_scheme_len(const char *url)
{
	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	return n > 0 && strncmp(url + n, "://", 3) == 0 ? n + 3 : 0;
}

char *webhook_url_redact(const char *url)
{
	/* Any scheme: a refused URL is logged too, and may hold a password. */
	size_t skip = any_scheme_len(url), alen, plen;
	const char *auth, *at, *path;
	char *out;

	auth = url + skip;
	alen = authority_len(auth);
	at = memrchr(auth, '@', alen);
	path = auth + alen;
	if (at)
		auth = at + 1;
	plen = strcspn(path, "?#");
	if (asprintf(&out, "%.*s%.*s%.*s%s", (int)skip, url, (int)(path - auth), auth, (int)plen,
		     path, path[plen] ? "?..." : "") < 0)
		return NULL;
	return out;
}
