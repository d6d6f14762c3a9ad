#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nap/limits.h>

#include "conffile.h"
#include "log.h"

void config_init(struct napd_config *c)
{
	*c = (struct napd_config){
		.socket_mode = 0660,
		.socket_gid = (gid_t)-1,
		.log_level = -1,
		.deploy_timeout_s = 300,
	};
	c->plugin_dir = strdup(NAP_PLUGIN_DIR);
	c->key_prefix = strdup(NAP_KEY_PREFIX_DEFAULT);
}

void config_free(struct napd_config *c)
{
	free(c->socket);
	free(c->allow_uids);
	free(c->allow_gids);
	free(c->plugin_dir);
	free(c->key_prefix);
	for (size_t i = 0; i < c->nplugins; i++) {
		free(c->plugins[i].name);
		free(c->plugins[i].path);
		for (size_t j = 0; j < c->plugins[i].nsettings; j++)
			free(c->plugins[i].settings[j]);
		free(c->plugins[i].settings);
	}
	free(c->plugins);
	*c = (struct napd_config){0};
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool plugin_name_ok(const char *s)
{
	/* Plugin names become file names: keep them plain. */
	if (!*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

static struct plugin_conf *find_plugin(struct napd_config *c, const char *name)
{
	for (size_t i = 0; i < c->nplugins; i++)
		if (strcmp(c->plugins[i].name, name) == 0)
			return &c->plugins[i];
	return NULL;
}

static int add_plugin(struct napd_config *c, const char *word)
{
	/* A word is a plugin name looked up in plugin_dir, or a path to a .so. */
	const char *slash = strrchr(word, '/');
	char name[80];
	if (slash) {
		snprintf(name, sizeof(name), "%s", slash + 1);
		char *dot = strstr(name, ".so");
		if (dot)
			*dot = '\0';
	} else {
		snprintf(name, sizeof(name), "%s", word);
	}
	if (!plugin_name_ok(name))
		return -EINVAL;
	if (find_plugin(c, name))
		return -EEXIST;
	struct plugin_conf *p = realloc(c->plugins, (c->nplugins + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->plugins = p;
	p = &c->plugins[c->nplugins++];
	*p = (struct plugin_conf){.name = strdup(name), .path = slash ? strdup(word) : NULL};
	return 0;
}

static int parse_uid(const char *w, uid_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(w, &end, 10);
	if (*w && !*end && errno == 0 && v < UINT_MAX) {
		*out = (uid_t)v;
		return 0;
	}
	struct passwd *pw = getpwnam(w);
	if (!pw)
		return -ENOENT;
	*out = pw->pw_uid;
	return 0;
}

static int parse_gid(const char *w, gid_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(w, &end, 10);
	if (*w && !*end && errno == 0 && v < UINT_MAX) {
		*out = (gid_t)v;
		return 0;
	}
	struct group *gr = getgrnam(w);
	if (!gr)
		return -ENOENT;
	*out = gr->gr_gid;
	return 0;
}

/* key_prefix: "/" then one or more "name/" (name: [A-Za-z0-9._-]+, not "."
 * or ".."), at most NAP_KEY_PREFIX_MAX bytes, and neither /services/ nor
 * inside it: the endpoints there are the public contract, not nap's. */
static bool key_prefix_valid(const char *p)
{
	size_t len = strlen(p), run = 0;
	if (len < 3 || len > NAP_KEY_PREFIX_MAX || p[0] != '/' || p[len - 1] != '/')
		return false;
	if (strncmp(p, "/services/", 10) == 0)
		return false;
	for (size_t i = 1; i < len; i++) {
		if (p[i] == '/') {
			if (run == 0 || (run == 1 && p[i - 1] == '.') ||
			    (run == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return false;
			run = 0;
		} else if (isalnum((unsigned char)p[i]) || strchr("._-", p[i])) {
			run++;
		} else {
			return false;
		}
	}
	return true;
}

static int set_key(struct napd_config *c, const char *key, char *val, char *err, size_t errlen)
{
	char *save = NULL;
	if (strcmp(key, "socket") == 0) {
		free(c->socket);
		c->socket = strdup(val);
	} else if (strcmp(key, "socket_mode") == 0) {
		char *end;
		unsigned long m = strtoul(val, &end, 8);
		if (!*val || *end || m > 0777) {
			snprintf(err, errlen, "socket_mode must be octal, like 0660");
			return -EINVAL;
		}
		c->socket_mode = (mode_t)m;
	} else if (strcmp(key, "socket_group") == 0) {
		if (parse_gid(val, &c->socket_gid) < 0) {
			snprintf(err, errlen, "socket_group: no group '%s'", val);
			return -EINVAL;
		}
	} else if (strcmp(key, "allow_users") == 0) {
		for (char *w = strtok_r(val, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
			uid_t u;
			if (parse_uid(w, &u) < 0) {
				snprintf(err, errlen, "allow_users: no user '%s'", w);
				return -EINVAL;
			}
			uid_t *n = realloc(c->allow_uids, (c->nallow_uids + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			c->allow_uids = n;
			n[c->nallow_uids++] = u;
		}
	} else if (strcmp(key, "allow_groups") == 0) {
		for (char *w = strtok_r(val, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
			gid_t g;
			if (parse_gid(w, &g) < 0) {
				snprintf(err, errlen, "allow_groups: no group '%s'", w);
				return -EINVAL;
			}
			gid_t *n = realloc(c->allow_gids, (c->nallow_gids + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			c->allow_gids = n;
			n[c->nallow_gids++] = g;
		}
	} else if (strcmp(key, "plugin_dir") == 0) {
		free(c->plugin_dir);
		c->plugin_dir = strdup(val);
	} else if (strcmp(key, "plugins") == 0) {
		for (char *w = strtok_r(val, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
			int r = add_plugin(c, w);
			if (r == -EEXIST) {
				snprintf(err, errlen, "plugin '%s' is listed twice", w);
				return -EINVAL;
			}
			if (r < 0) {
				snprintf(err, errlen,
					 "'%s' is not a plugin name (letters, digits, - and _) "
					 "or a path to a .so",
					 w);
				return -EINVAL;
			}
		}
	} else if (strcmp(key, "log_level") == 0) {
		c->log_level = log_level_parse(val);
		if (c->log_level < 0) {
			snprintf(err, errlen,
				 "log_level must be error, warning, notice, info or debug");
			return -EINVAL;
		}
	} else if (strcmp(key, "deploy_timeout") == 0) {
		char *end;
		unsigned long v = strtoul(val, &end, 10);
		if (*end || v == 0 || v > 86400) {
			snprintf(err, errlen, "deploy_timeout is seconds, 1 to 86400");
			return -EINVAL;
		}
		c->deploy_timeout_s = (unsigned)v;
	} else if (strcmp(key, "key_prefix") == 0) {
		if (!key_prefix_valid(val)) {
			snprintf(
				err, errlen,
				"key_prefix is \"/\", then names of [A-Za-z0-9._-] each ending in "
				"\"/\" (such as /nap/ or /nap-staging/), at most %u bytes, and not "
				"/services/ (the endpoints' public keys)",
				NAP_KEY_PREFIX_MAX);
			return -EINVAL;
		}
		free(c->key_prefix);
		c->key_prefix = strdup(val);
		if (!c->key_prefix)
			return -ENOMEM;
	} else {
		snprintf(err, errlen, "unknown setting '%s'", key);
		return -EINVAL;
	}
	return 0;
}

static bool is_global_key(const char *key)
{
	static const char *const keys[] = {"socket",      "socket_mode",  "socket_group",
					   "allow_users", "allow_groups", "plugin_dir",
					   "plugins",     "log_level",    "deploy_timeout",
					   "key_prefix"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static int add_setting(struct plugin_conf *p, const char *key, const char *val)
{
	char **n = realloc(p->settings, (p->nsettings + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->settings = n;
	if (asprintf(&n[p->nsettings], "%s=%s", key, val) < 0)
		return -ENOMEM;
	p->nsettings++;
	return 0;
}

int config_load(struct napd_config *c, const char *path, bool must_exist, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	char section[80] = "";
	int r = 0;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		char *s = trim(line);
		if (*s == '#' || *s == ';' || *s == '\0')
			continue;
		char why[256] = "";
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || strncmp(s, "[plugin ", 8) != 0) {
				snprintf(why, sizeof(why), "sections are written [plugin NAME]");
				goto bad;
			}
			*e = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 8));
			if (!find_plugin(c, section)) {
				snprintf(why, sizeof(why),
					 "section for plugin '%s', which 'plugins =' does not list "
					 "(list plugins before their sections)",
					 section);
				goto bad;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(why, sizeof(why), "expected 'key = value'");
			goto bad;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		if (*section && is_global_key(key)) {
			snprintf(
				why, sizeof(why),
				"'%s' is a global setting but stands in [plugin %s]: move it above "
				"the first [plugin] section",
				key, section);
			goto bad;
		}
		if (*section) {
			struct plugin_conf *pc = find_plugin(c, section);
			if (pc->nsettings >= NAP_CONFIG_MAX) {
				snprintf(why, sizeof(why),
					 "[plugin %s] has more than %u settings (NAP_CONFIG_MAX)",
					 section, NAP_CONFIG_MAX);
				goto bad;
			}
			if (strlen(key) + 1 + strlen(val) > NAP_CONFIG_ENTRY_MAX) {
				snprintf(why, sizeof(why),
					 "the setting '%.64s' is longer than %u bytes as key=value "
					 "(NAP_CONFIG_ENTRY_MAX)",
					 key, NAP_CONFIG_ENTRY_MAX);
				goto bad;
			}
			r = add_setting(pc, key, val);
			if (r < 0)
				break;
			continue;
		}
		r = set_key(c, key, val, why, sizeof(why));
		if (r == 0)
			continue;
		if (r != -EINVAL)
			break;
bad:
		snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
		r = -EINVAL;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

int config_resolve_plugins(struct napd_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nplugins; i++) {
		struct plugin_conf *p = &c->plugins[i];
		if (!p->path && asprintf(&p->path, "%s/%s.so", c->plugin_dir, p->name) < 0)
			return -ENOMEM;
		if (access(p->path, R_OK) < 0) {
			snprintf(err, errlen,
				 "plugin '%s': %s: %s (is it installed? plugin_dir is %s)", p->name,
				 p->path, strerror(errno), c->plugin_dir);
			return -ENOENT;
		}
	}
	return 0;
}
