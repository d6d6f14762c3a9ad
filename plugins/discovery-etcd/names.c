/* discovery-etcd: checking record keys, so that a caller can never reach
 * outside /nap/ (endpoint keys and values: plugins/common/endpoint.c). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "discovery.h"

bool disc_record_key_valid(const char *key, bool allow_empty)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0)
		return allow_empty;
	if (n > 200 || key[0] == '/' || strstr(key, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '/' || c == '-'))
			return false;
	}
	return true;
}
