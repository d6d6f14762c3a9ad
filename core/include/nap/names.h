/* The names every part of nap checks the same way, before a name reaches a
 * container name, a label, a URL, an etcd key or a unit file. */
#ifndef NAP_NAMES_H
#define NAP_NAMES_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ^[a-z][a-z0-9-]{0,62}$ */
#define NAP_APP_NAME_PATTERN "^[a-z][a-z0-9-]{0,62}$"
#define NAP_APP_NAME_RULE                                                                          \
	"app names are 1 to 63 characters of a-z, 0-9 and '-', starting with a letter"
#define NAP_APP_NAME_MAX 63

/* True if name (may be NULL) follows NAP_APP_NAME_PATTERN. */
bool nap_app_name_valid(const char *name);

/* Environment variable names: ^[A-Za-z_][A-Za-z0-9_]{0,254}$. */
#define NAP_ENV_KEY_MAX 255
bool nap_env_key_valid(const char *key);

#ifdef __cplusplus
}
#endif
#endif
