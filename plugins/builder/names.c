/* plugins/builder: app name, registry and image reference checks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "names.h"

#include <string.h>

#include "builder.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_name_char(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '-';
}

/* A component [A-Za-z0-9][A-Za-z0-9._-]* of len bytes at s. */
static bool valid_component(const char *s, size_t len)
{
	if (len == 0 || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_name_char(s[i]))
			return false;
	return true;
}

static bool all_of(const char *s, size_t len, bool (*ok)(char))
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!ok(s[i]))
			return false;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_tag_char(char c)
{
	return is_name_char(c);
}

/* "name" or "name:suffix" where suffix passes ok(); a component of a
 * reference. */
static bool valid_component_with(const char *s, size_t len, bool (*ok)(char), size_t max_suffix)
{
	const char *colon = memchr(s, ':', len);

	if (!colon)
		return valid_component(s, len);
	size_t head = (size_t)(colon - s), tail = len - head - 1;
	return valid_component(s, head) && tail <= max_suffix && all_of(colon + 1, tail, ok);
}

bool builder_valid_registry(const char *registry)
{
	const char *p, *slash;
	bool first = true;

	if (!registry || !*registry || strlen(registry) > BUILDER_REGISTRY_MAX)
		return false;
	for (p = registry;; p = slash + 1, first = false) {
		slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (first ? !valid_component_with(p, len, is_digit, 5) : !valid_component(p, len))
			return false;
		if (!slash)
			return true;
	}
}

bool builder_valid_image(const char *image)
{
	const char *p, *slash, *at, *end;
	bool first = true;

	if (!image || !*image || strlen(image) > 512)
		return false;
	/* A bare image ID. */
	if (strncmp(image, "sha256:", 7) == 0 && !strchr(image, '/'))
		return strlen(image + 7) <= 64 && all_of(image + 7, strlen(image + 7), is_hex);
	at = strchr(image, '@');
	end = at ? at : image + strlen(image);
	if (at && (strncmp(at + 1, "sha256:", 7) != 0 || !all_of(at + 8, strlen(at + 8), is_hex)))
		return false;
	for (p = image;; p = slash + 1, first = false) {
		slash = memchr(p, '/', (size_t)(end - p));
		size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
		bool ok;

		if (!slash) /* the last component: name[:tag] */
			ok = valid_component_with(p, len, is_tag_char, 128);
		else if (first) /* a registry host: host[:port] */
			ok = valid_component_with(p, len, is_digit, 5);
		else
			ok = valid_component(p, len);
		if (!ok)
			return false;
		if (!slash)
			return true;
	}
}

const char *builder_printable(char *out, size_t outlen, const char *s)
{
	size_t i = 0;

	if (outlen == 0)
		return out;
	for (; s && *s && i < 64 && i + 1 < outlen; s++, i++) {
		unsigned char c = (unsigned char)*s;

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}
