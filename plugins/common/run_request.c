/* plugins/common: checks on a Scheduler.Run request (see run_request.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "run_request.h"

#include <stdio.h>
#include <string.h>

#include <nap/env.h>
#include <nap/limits.h>
#include <nap/names.h>

const char *run_request_check(const Nap__RunRequest *req, char *buf, size_t len)
{
	if (!nap_app_name_valid(req->app))
		return snprintf(buf, len, "invalid app name \"%.80s\": %s",
				req->app ? req->app : "", NAP_APP_NAME_RULE),
		       buf;
	if (req->release == 0)
		return "release must be 1 or more";
	if (req->n_instances == 0)
		return "no instances given";
	if (req->n_instances > NAP_INSTANCES_MAX)
		return snprintf(buf, len, "%zu instances in one call: at most %u", req->n_instances,
				NAP_INSTANCES_MAX),
		       buf;
	for (size_t i = 0; i < req->n_instances; i++) {
		if (req->instances[i] == 0)
			return "instance numbers start at 1";
		for (size_t j = 0; j < i; j++)
			if (req->instances[j] == req->instances[i])
				return snprintf(buf, len, "instance %u is given twice",
						(unsigned)req->instances[i]),
				       buf;
	}
	if (!nap_env_valid(req->env, req->n_env, buf, len))
		return buf;
	if (req->image && strlen(req->image) > NAP_IMAGE_REF_MAX)
		return snprintf(buf, len,
				"the image reference is %zu bytes, more than the limit of %u "
				"(NAP_IMAGE_REF_MAX)",
				strlen(req->image), NAP_IMAGE_REF_MAX),
		       buf;
	return NULL;
}
