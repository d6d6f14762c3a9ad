/* Size and name checks on nap.Control requests (see requests.h). The
 * messages never quote an environment value: values may be secrets. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <nap/env.h>
#include <nap/limits.h>

#include "requests.h"

static bool key_ok(const char *k, char *why, size_t whylen)
{
	if (nap_env_key_valid(k))
		return true;
	nap_env_key_why(k, why, whylen);
	return false;
}

static bool count_ok(size_t n, char *why, size_t whylen)
{
	if (n <= NAP_ENV_COUNT_MAX)
		return true;
	snprintf(why, whylen,
		 "%zu environment variables is more than the limit of %u (NAP_ENV_COUNT_MAX)", n,
		 NAP_ENV_COUNT_MAX);
	return false;
}

static bool total_ok(size_t total, char *why, size_t whylen)
{
	if (total <= NAP_ENV_TOTAL_MAX)
		return true;
	snprintf(why, whylen,
		 "the environment would take %zu bytes as KEY=VALUE strings, more than the limit "
		 "of %u (NAP_ENV_TOTAL_MAX)",
		 total, NAP_ENV_TOTAL_MAX);
	return false;
}

json_t *request_env_object(Nap__EnvVar *const *vars, size_t n, char *why, size_t whylen)
{
	if (!nap_env_valid(vars, n, why, whylen))
		return NULL;
	json_t *obj = json_object();
	for (size_t i = 0; obj && i < n; i++) {
		json_t *v = json_string(vars[i]->value ? vars[i]->value : "");
		if (!v || json_object_set_new(obj, vars[i]->key, v) < 0) {
			snprintf(why, whylen, "the orchestrator is out of memory");
			json_decref(obj);
			return NULL;
		}
	}
	if (!obj)
		snprintf(why, whylen, "the orchestrator is out of memory");
	return obj;
}

bool request_unset_ok(char *const *keys, size_t n, char *why, size_t whylen)
{
	if (!count_ok(n, why, whylen))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!key_ok(keys[i], why, whylen))
			return false;
	return true;
}

bool request_env_merged_ok(const json_t *env, char *why, size_t whylen)
{
	size_t total = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)env, k, v)
		total += strlen(k) + 1 + strlen(json_string_value(v) ? json_string_value(v) : "");
	return count_ok(json_object_size(env), why, whylen) && total_ok(total, why, whylen);
}

bool request_dir_ok(const char *dir, char *why, size_t whylen)
{
	size_t n = dir ? strlen(dir) : 0;
	if (n > NAP_PATH_MAX) {
		snprintf(
			why, whylen,
			"the directory path is %zu bytes, more than the limit of %u (NAP_PATH_MAX)",
			n, NAP_PATH_MAX);
		return false;
	}
	if (!dir || dir[0] != '/') {
		snprintf(why, whylen, "the directory must be an absolute path (got '%.200s')",
			 dir ? dir : "");
		return false;
	}
	return true;
}

bool request_context_ok(const char *context_id, const char *dir, char *why, size_t whylen)
{
	size_t n = context_id ? strlen(context_id) : 0;
	if (n == 0)
		return request_dir_ok(dir, why, whylen);
	if (dir && *dir) {
		snprintf(why, whylen, "a deploy takes a context_id or a dir, not both");
		return false;
	}
	bool ok = n == NAP_CONTEXT_ID_LEN;
	for (size_t i = 0; ok && i < n; i++)
		ok = (context_id[i] >= '0' && context_id[i] <= '9') ||
		     (context_id[i] >= 'a' && context_id[i] <= 'f');
	if (!ok)
		snprintf(why, whylen,
			 "context_id must be the %u hex digits nap.Builder.Upload answered",
			 NAP_CONTEXT_ID_LEN);
	return ok;
}

bool check_path_ok(const char *path, char *why, size_t whylen)
{
	size_t n = strlen(path);
	bool ok = n >= 1 && n <= NAP_CHECK_PATH_MAX && path[0] == '/';
	for (size_t i = 0; ok && i < n; i++)
		ok = path[i] > 0x20 && path[i] < 0x7f;
	if (!ok)
		snprintf(why, whylen,
			 "the check path must start with '/' and be 1 to %u printable characters "
			 "without spaces (NAP_CHECK_PATH_MAX)",
			 NAP_CHECK_PATH_MAX);
	return ok;
}

bool constraints_ok(char *const *c, size_t n, char *why, size_t whylen)
{
	if (n > NAP_CONSTRAINTS_MAX) {
		snprintf(why, whylen,
			 "%zu placement constraints; the limit is %u (NAP_CONSTRAINTS_MAX)", n,
			 NAP_CONSTRAINTS_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(c[i]);
		bool ok = len >= 1 && len <= NAP_CONSTRAINT_MAX;
		for (size_t k = 0; ok && k < len; k++)
			ok = c[i][k] > 0x20 && c[i][k] < 0x7f;
		if (!ok) {
			snprintf(why, whylen,
				 "a placement constraint is 1 to %u printable characters without "
				 "spaces, like node.labels.zone==a (NAP_CONSTRAINT_MAX)",
				 NAP_CONSTRAINT_MAX);
			return false;
		}
	}
	return true;
}
