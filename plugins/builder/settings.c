/* plugins/builder: the settings of the build context (see settings.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/protocol.h>

#include "builder.h"
#include "settings_table.h"

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
	uint32_t mb;
	const struct setting table[] = {
		{"max_context_mb", SETTING_U32, &mb, BUILDER_DEFAULT_CONTEXT_MB, 1, 1u << 20, 1,
		 "MiB"},
		{"allow_path_context", SETTING_BOOL, &s->allow_path, 0, 0, 0, 0, NULL},
	};
	int r = settings_read(host, "builder", table, sizeof(table) / sizeof(table[0]));

	if (r < 0)
		return r;
	s->max_bytes = (uint64_t)mb << 20;
	return context_dir(&s->dir, &s->dir_temp, host);
}
