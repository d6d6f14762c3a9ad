/* napd's configuration file: "key = value" lines, '#' comments, and one
 * "[plugin NAME]" section per plugin for that plugin's own settings.
 * See man/napd.conf.5 and contrib/napd.conf. */
#ifndef NAPD_CONFFILE_H
#define NAPD_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct plugin_conf {
	char *name;      /* "builder" */
	char *path;      /* resolved .so path */
	char **settings; /* "key=value" strings from its section */
	size_t nsettings;
};

struct napd_config {
	char *socket;       /* NULL: command line, $NAP_SOCKET or the default */
	mode_t socket_mode; /* default 0660 */
	gid_t socket_gid;   /* (gid_t)-1: napd's group */
	uid_t *allow_uids;  /* who may connect, besides root and napd's user */
	size_t nallow_uids;
	gid_t *allow_gids;
	size_t nallow_gids;
	char *plugin_dir;
	struct plugin_conf *plugins;
	size_t nplugins;
	int log_level; /* -1: not set */
	unsigned deploy_timeout_s;
	char *key_prefix; /* nap's records in etcd, NAP_KEY_PREFIX_DEFAULT if not set */
};

/* Fills defaults. */
void config_init(struct napd_config *c);
/* Reads path (NULL or missing default file: defaults only). On a mistake
 * writes one line naming the file, the line and the problem into err and
 * returns -EINVAL. */
int config_load(struct napd_config *c, const char *path, bool must_exist, char *err, size_t errlen);
/* Resolves plugin names to paths under plugin_dir (call after load and after
 * command-line overrides). -ENOENT with err filled if a plugin is missing. */
int config_resolve_plugins(struct napd_config *c, char *err, size_t errlen);
void config_free(struct napd_config *c);

#endif
