/* notifier: webhook URLs (see url.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "url.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* True if part of the parsed URL h is present and not empty. */
static bool has_part(CURLU *h, CURLUPart part)
{
	char *s = NULL;
	bool has = curl_url_get(h, part, &s, 0) == CURLUE_OK && s && s[0];
	curl_free(s);
	return has;
}

/* The parsed URL h for the log (see url.h), in *redacted. */
static int redact(CURLU *h, char **redacted)
{
	bool hidden = has_part(h, CURLUPART_QUERY) || has_part(h, CURLUPART_FRAGMENT);
	char *s = NULL;
	if (curl_url_set(h, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		return -ENOMEM;
	int r = asprintf(redacted, "%s%s", s, hidden ? "?..." : "");
	curl_free(s);
	return r < 0 ? -ENOMEM : 0;
}

/* True if the parsed URL h is http or https with a host. */
static bool is_webhook(CURLU *h)
{
	char *scheme = NULL;
	bool web = false;
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
		/* libcurl gives the scheme in lower case */
		web = strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
	curl_free(scheme);
	return web && has_part(h, CURLUPART_HOST);
}

int webhook_url_parse(const char *url, char **checked, char **redacted)
{
	CURLU *h = curl_url();
	if (!h)
		return -ENOMEM;
	/* Any scheme, so that a refused URL is still redacted before it is
	 * logged; only http and https are taken. */
	CURLUcode uc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc == CURLUE_OUT_OF_MEMORY) {
		curl_url_cleanup(h);
		return -ENOMEM;
	}
	if (uc != CURLUE_OK) {
		curl_url_cleanup(h);
		/* Nothing of it is quoted: libcurl cannot say where a password
		 * would be. */
		if (asprintf(redacted, "(%zu bytes that libcurl does not read as a URL, error %d)",
			     strlen(url), (int)uc) < 0)
			return -ENOMEM;
		return -EINVAL;
	}
	char *s = NULL;
	int r = 0;
	if (!is_webhook(h))
		r = -EINVAL;
	else if (curl_url_get(h, CURLUPART_URL, &s, 0) != CURLUE_OK)
		r = -ENOMEM;
	char *ok = NULL;
	if (s) {
		ok = strdup(s);
		curl_free(s);
		if (!ok)
			r = -ENOMEM;
	}
	if (r != -ENOMEM) {
		int rr = redact(h, redacted);
		if (rr < 0)
			r = rr;
	}
	curl_url_cleanup(h);
	if (r == -ENOMEM) {
		free(ok);
		return r;
	}
	if (r == 0)
		*checked = ok;
	return r;
}
