/* plugins/builder: the settings of the build context (see settings.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nap/protocol.h>

#include "builder.h"

/* max_context_mb: a whole number of MiB from 1 to 1 TiB's worth. */
static int context_mb(uint64_t *bytesp, const nap_host *host)
{
	const char *s = host->config("max_context_mb");
	unsigned long long mb;
	char *end;

	*bytesp = (uint64_t)BUILDER_DEFAULT_CONTEXT_MB << 20;
	if (!s)
		return 0;
	errno = 0;
	mb = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || mb < 1 || mb > (1ull << 20)) {
		host->log(NAP_LOG_ERROR,
			  "builder: max_context_mb = \"%s\" is not a number of MiB from 1 to "
			  "1048576: fix [plugin builder] in napd.conf",
			  s);
		return -EINVAL;
	}
	*bytesp = (uint64_t)mb << 20;
	return 0;
}

/* allow_path_context: yes or no. */
static int allow_path(bool *out, const nap_host *host)
{
	const char *s = host->config("allow_path_context");

	*out = false;
	if (!s || strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		return 0;
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "on") == 0 ||
	    strcmp(s, "1") == 0) {
		*out = true;
		return 0;
	}
	host->log(NAP_LOG_ERROR,
		  "builder: allow_path_context = \"%s\" is neither yes nor no: fix [plugin "
		  "builder] in napd.conf",
		  s);
	return -EINVAL;
}

/* context_dir, or its default for this napd's socket. */
static int context_dir(char **dirp, bool *tempp, const nap_host *host)
{
	const char *s = host->config("context_dir"), *id = host->config("napd.id"), *sock;

	if (s && s[0] != '/') {
		host->log(NAP_LOG_ERROR,
			  "builder: context_dir = \"%s\" is not an absolute path: fix [plugin "
			  "builder] in napd.conf",
			  s);
		return -EINVAL;
	}
	/* napd.id is "<hostname>:<socket path>". */
	sock = id ? strchr(id, ':') : NULL;
	if (s || !sock || strcmp(sock + 1, NAP_DEFAULT_SOCKET) == 0) {
		*dirp = strdup(s ? s : NAP_BUILDER_CONTEXT_DIR);
		return *dirp ? 0 : -ENOMEM;
	}
	sock += 1 + strspn(sock + 1, "/");
	if (asprintf(dirp, "%s/%s", NAP_BUILDER_CONTEXT_DIR, sock) < 0)
		return -ENOMEM;
	for (char *p = *dirp + strlen(NAP_BUILDER_CONTEXT_DIR) + 1; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	*tempp = true;
	return 0;
}

int builder_context_settings(struct builder_context_settings *s, const nap_host *host)
{
	int r = context_mb(&s->max_bytes, host);

	if (r == 0)
		r = allow_path(&s->allow_path, host);
	if (r == 0)
		r = context_dir(&s->dir, &s->dir_temp, host);
	return r;
}
