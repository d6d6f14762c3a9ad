/* plugins/common: a plugin's number and yes/no settings (see settings_table.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "settings_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where a bad key is fixed: its plugin's section, or napd's own. */
static void log_bad(const nap_host *host, const char *plugin, const struct setting *s,
		    const char *v, const char *what)
{
	if (strncmp(s->key, "napd.", 5) == 0)
		host->log(NAP_LOG_ERROR, "%s: %s = \"%.60s\" is %s: fix %s in napd.conf", plugin,
			  s->key, v, what, s->key + 5);
	else
		host->log(
			NAP_LOG_ERROR,
			"%s: %s = \"%.60s\" is %s: fix it in the [plugin %s] section of napd.conf",
			plugin, s->key, v, what, plugin);
}

static int read_u32(const nap_host *host, const char *plugin, const struct setting *s,
		    const char *v)
{
	uint32_t scale = s->scale ? s->scale : 1;
	unsigned long long n;
	char *end, what[160];

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *v < '0' || *v > '9' || *end || n < s->min || n > s->max) {
		snprintf(what, sizeof what, "not a whole number from %u to %u%s%s", s->min, s->max,
			 s->unit ? " " : "", s->unit ? s->unit : "");
		log_bad(host, plugin, s, v, what);
		return -EINVAL;
	}
	*(uint32_t *)s->into = (uint32_t)n * scale;
	return 0;
}

static int read_bool(const nap_host *host, const char *plugin, const struct setting *s,
		     const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *(bool *)s->into = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *(bool *)s->into = false, 0;
	}
	log_bad(host, plugin, s, v, "neither yes nor no");
	return -EINVAL;
}

int settings_read(const nap_host *host, const char *plugin, const struct setting *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct setting *s = &table[i];
		const char *v = host->config(s->key);
		int r;

		if (s->type == SETTING_BOOL)
			*(bool *)s->into = s->def != 0;
		else
			*(uint32_t *)s->into = s->def;
		if (!v)
			continue;
		r = s->type == SETTING_BOOL ? read_bool(host, plugin, s, v)
					    : read_u32(host, plugin, s, v);
		if (r < 0)
			return r;
	}
	return 0;
}
