/* plugins/builder: the checks every user-supplied name passes before it
 * goes anywhere near Docker (a URL path, a tag). Pure functions. */
#ifndef NAP_PLUGIN_BUILDER_NAMES_H
#define NAP_PLUGIN_BUILDER_NAMES_H

#include <nap/names.h>
#include <stdbool.h>
#include <stddef.h>

/* True if app matches ^[a-z][a-z0-9-]{0,62}$ (nap's app name rule). */

/* True if registry is "host[:port]" optionally followed by "/path"
 * components, made of [A-Za-z0-9._-] with no empty, "." or ".."
 * component, at most BUILDER_REGISTRY_MAX characters. */
bool builder_valid_registry(const char *registry);

/* True if image is a Docker image reference we are willing to put into a
 * URL path: '/'-separated components that each start with a letter or a
 * digit and hold only [A-Za-z0-9._-] (the last may add ":tag" and/or
 * "@sha256:hex"), or a bare "sha256:<hex>" ID. No "." or ".." component
 * can pass, so the reference cannot climb out of /images/ in the URL. */
bool builder_valid_image(const char *image);

/* Copies at most 64 characters of s (NULL: "") into out (outlen bytes,
 * NUL-terminated) with every byte that is not printable ASCII replaced by
 * '?', so that a bad name can be quoted in a one-line message. Returns out. */
const char *builder_printable(char *out, size_t outlen, const char *s);

#endif
