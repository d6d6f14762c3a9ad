/* scheduler-fleet: unit and container names, and the checks on every string
 * that goes into a unit (see units.h for the naming scheme and why). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nap/names.h>

void sf_unit_name(char *buf, size_t len, enum sf_unit_kind kind, const char *app, uint32_t release,
		  uint32_t instance)
{
	snprintf(buf, len, "nap-%s@%" PRIu32 "-%" PRIu32 "%s.service", app, release, instance,
		 kind == SF_UNIT_DISCOVERY ? "-discovery" : "");
}

void sf_container_name(char *buf, size_t len, const char *app, uint32_t release, uint32_t instance)
{
	snprintf(buf, len, "nap-%s-%" PRIu32 "-%" PRIu32, app, release, instance);
}

void sf_conflicts_glob(char *buf, size_t len, const char *app, uint32_t release)
{
	snprintf(buf, len, "nap-%s@%" PRIu32 "-*[0-9].service", app, release);
}

/* A decimal u32 of 1 or more without leading zeros, ending at *end. */
static bool read_u32(const char *s, const char *end, uint32_t *v)
{
	uint64_t n = 0;

	if (s == end || *s == '0' || end - s > 10)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

bool sf_unit_parse(const char *name, char *app, enum sf_unit_kind *kindp, uint32_t *releasep,
		   uint32_t *instancep)
{
	const char *at, *dash, *end;
	enum sf_unit_kind kind = SF_UNIT_RUN;
	size_t len = strlen(name), applen;

	if (strncmp(name, "nap-", 4) != 0 || len < sizeof ".service" ||
	    strcmp(name + len - (sizeof ".service" - 1), ".service") != 0)
		return false;
	end = name + len - (sizeof ".service" - 1);
	if ((size_t)(end - name) > sizeof "-discovery" &&
	    strncmp(end - (sizeof "-discovery" - 1), "-discovery", sizeof "-discovery" - 1) == 0) {
		kind = SF_UNIT_DISCOVERY;
		end -= sizeof "-discovery" - 1;
	}
	at = strchr(name, '@');
	if (!at || at > end)
		return false;
	applen = (size_t)(at - (name + 4));
	if (applen == 0 || applen > NAP_APP_NAME_MAX)
		return false;
	memcpy(app, name + 4, applen);
	app[applen] = '\0';
	if (!nap_app_name_valid(app))
		return false;
	dash = memchr(at + 1, '-', (size_t)(end - at - 1));
	if (!dash || !read_u32(at + 1, dash, releasep) || !read_u32(dash + 1, end, instancep))
		return false;
	*kindp = kind;
	return true;
}

static bool all_in(const char *s, const char *extra)
{
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return true;
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool sf_image_valid(const char *image)
{
	return image && alnum(image[0]) && strlen(image) <= 255 && all_in(image, "._/:@-");
}

bool sf_metadata_valid(const char *kv)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	size_t n = eq ? (size_t)(eq - kv) : 0;
	char key[256];

	if (!eq || n == 0 || n >= sizeof key || !eq[1] || strlen(kv) > 255)
		return false;
	memcpy(key, kv, n);
	key[n] = '\0';
	return all_in(key, "_.:/-") && all_in(eq + 1, "_.:/-");
}

bool sf_host_valid(const char *host)
{
	if (!host || !*host)
		return false;
	if (strcmp(host, "%H") == 0 || strcmp(host, "%m") == 0)
		return true;
	return strlen(host) <= 253 && all_in(host, ".:-");
}

bool sf_path_valid(const char *path)
{
	return path && path[0] == '/' && strlen(path) < 4096 && all_in(path, "/._-");
}

bool sf_url_valid(const char *url)
{
	return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
	       strlen(url) < 1024 && all_in(url, ".:/,_-");
}

bool sf_text_valid(const char *s)
{
	/* jansson refuses to make a string of anything but UTF-8. */
	json_t *j = s ? json_string(s) : NULL;

	json_decref(j);
	return j != NULL;
}

bool sf_check_path_valid(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	if (n == 0 || n > SF_CHECK_PATH_MAX || path[0] != '/')
		return false;
	return strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "._~/%?=&+,;:@!-") == n;
}
