/* The checks every nap.Control request passes before any work starts: the
 * sizes and lists of nap/limits.h and the name rules of nap/names.h. Each
 * check fills why with one line that names the limit and its value. */
#ifndef NAP_ORCHESTRATOR_REQUESTS_H
#define NAP_ORCHESTRATOR_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <nap/control.pb-c.h>

/* The variables of a Deploy or SetEnv as a new JSON object {KEY: VALUE}, or
 * NULL with why filled when a key, a value, their count or their total size
 * is past a limit. The caller owns the object. */
json_t *request_env_object(Nap__EnvVar *const *vars, size_t n, char *why, size_t whylen);

/* The keys of SetEnv's unset list. */
bool request_unset_ok(char *const *keys, size_t n, char *why, size_t whylen);

/* An app's whole environment once merged ({KEY: VALUE}): count and total. */
bool request_env_merged_ok(const json_t *env, char *why, size_t whylen);

/* A build directory: absolute and at most NAP_PATH_MAX bytes. */
bool request_dir_ok(const char *dir, char *why, size_t whylen);

/* A deploy's build context: an uploaded context's id (NAP_CONTEXT_ID_LEN
 * lowercase hex digits), or else a directory as request_dir_ok() wants it
 * (the builder decides whether it takes one); never both. */
bool request_context_ok(const char *context_id, const char *dir, char *why, size_t whylen);

/* An HTTP check path: "/..." of printable ASCII, no blanks, at most
 * NAP_CHECK_PATH_MAX bytes (it goes into a request line and a fleet unit). */
bool check_path_ok(const char *path, char *why, size_t whylen);

/* Placement constraints: at most NAP_CONSTRAINTS_MAX, each 1 to
 * NAP_CONSTRAINT_MAX printable characters without blanks. */
bool constraints_ok(char *const *c, size_t n, char *why, size_t whylen);

#endif
