/* plugins/common: reading 64-bit integers from JSON. The etcd gateway (like
 * any protobuf JSON mapping) writes int64 fields as decimal strings
 * ("revision":"42"); Docker writes plain numbers. Both are accepted. */
#ifndef NAP_PLUGIN_COMMON_JSON_INT64_H
#define NAP_PLUGIN_COMMON_JSON_INT64_H

#include <stdint.h>

#include <jansson.h>

/* Reads v, a JSON integer or a string holding a decimal integer, into *outp.
 * Returns 0, -EINVAL if v is NULL or neither, -ERANGE if it does not fit. */
int json_int64(int64_t *outp, const json_t *v);

/* The int64 member key of object obj, or dflt when it is absent or invalid
 * (protobuf JSON omits fields that hold their zero value). */
int64_t json_int64_member(const json_t *obj, const char *key, int64_t dflt);

#endif
