/* scheduler-fleet: client errors (negative errno values from fleet_api.h and
 * etcd_v3.h) as the nap statuses a caller sees. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <errno.h>

int sf_status(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EIO: /* fleet's 5xx: its etcd is in trouble; retry later */
		return NAP_UNAVAILABLE;
	case -ECANCELED:
		return NAP_CANCELLED;
	case -EINVAL:
		return NAP_INVALID_ARGUMENT;
	case -ENOENT:
		return NAP_NOT_FOUND;
	case -EEXIST:
		return NAP_ALREADY_EXISTS;
	case -ENOMEM:
		return NAP_RESOURCE_EXHAUSTED;
	default:
		return NAP_INTERNAL;
	}
}
