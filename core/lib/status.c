/* Status names and error strings. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <nap/status.h>

static const char *const status_names[NAP_STATUS_COUNT] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *nap_status_name(int status)
{
	if (status < 0 || status >= NAP_STATUS_COUNT)
		return "UNKNOWN";
	return status_names[status];
}

int nap_status_from_name(const char *name)
{
	for (int i = 0; i < NAP_STATUS_COUNT; i++)
		if (strcasecmp(name, status_names[i]) == 0)
			return i;
	return -1;
}

const char *nap_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

int nap_status_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return NAP_OK;
	case ECONNREFUSED: /* the server is down, */
	case ECONNRESET:   /* went away, */
	case ETIMEDOUT:    /* or is stuck: */
	case EAGAIN:       /* (etcd: too few members answer) */
	case EIO:          /* or failed (HTTP 5xx): try again later */
		return NAP_UNAVAILABLE;
	case ECANCELED:
		return NAP_CANCELLED;
	case EINVAL:
		return NAP_INVALID_ARGUMENT;
	case ENOENT:
		return NAP_NOT_FOUND;
	case EEXIST:
		return NAP_ALREADY_EXISTS;
	case EACCES:
	case EPERM:
		return NAP_PERMISSION_DENIED;
	case ENOMEM:
		return NAP_RESOURCE_EXHAUSTED;
	default:
		return NAP_INTERNAL;
	}
}
