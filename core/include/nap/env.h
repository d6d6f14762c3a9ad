/* The one check of an app's environment (names, text, sizes) that napc,
 * napd and every plugin receiving one apply the same way. The limits are
 * nap/limits.h's. Messages never quote a value: values may be secrets. */
#ifndef NAP_ENV_H
#define NAP_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include <nap/control.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True if s (not NULL) is UTF-8 text: no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
bool nap_utf8_valid(const char *s);

/* Makes s UTF-8 in place: each byte that does not start a valid sequence
 * (a text cut in the middle of a character included) becomes '?'. Returns
 * how many were replaced. For messages that quote what a peer sent. */
size_t nap_utf8_repair(char *s);

/* True if n variables (vars[i]->key, vars[i]->value) follow the rules:
 * names nap_env_key_valid(), values UTF-8 of at most NAP_ENV_VALUE_MAX
 * bytes, at most NAP_ENV_COUNT_MAX of them and NAP_ENV_TOTAL_MAX bytes
 * counted as KEY=VALUE strings. Otherwise false, with one line saying which
 * rule and limit in why. */
bool nap_env_valid(Nap__EnvVar *const *vars, size_t n, char *why, size_t whylen);

/* The message for a name that is not nap_env_key_valid() (in why), which
 * shows a name that looks like KEY=VALUE only up to the '='. */
void nap_env_key_why(const char *key, char *why, size_t whylen);

#ifdef __cplusplus
}
#endif
#endif
