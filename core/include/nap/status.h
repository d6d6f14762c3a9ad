/* Status codes carried by END frames (numbered as gRPC numbers them) and the
 * error convention of libnap's functions.
 *
 * libnap functions return 0 (or a count) on success and a negative errno
 * value on failure; nap_strerror() turns either into text. The status of a
 * call is a nap_status, never negative. */
#ifndef NAP_STATUS_H
#define NAP_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nap_status {
	NAP_OK = 0,
	NAP_CANCELLED = 1,
	NAP_UNKNOWN = 2,
	NAP_INVALID_ARGUMENT = 3,
	NAP_DEADLINE_EXCEEDED = 4,
	NAP_NOT_FOUND = 5,
	NAP_ALREADY_EXISTS = 6,
	NAP_PERMISSION_DENIED = 7,
	NAP_RESOURCE_EXHAUSTED = 8,
	NAP_FAILED_PRECONDITION = 9,
	NAP_ABORTED = 10,
	NAP_OUT_OF_RANGE = 11,
	NAP_UNIMPLEMENTED = 12,
	NAP_INTERNAL = 13,
	NAP_UNAVAILABLE = 14,
	NAP_DATA_LOSS = 15,
	NAP_UNAUTHENTICATED = 16,
} nap_status;

#define NAP_STATUS_COUNT 17

/* "UNAVAILABLE" for NAP_UNAVAILABLE; "STATUS_<n>" is never returned: unknown
 * values give "UNKNOWN". The string is static. */
const char *nap_status_name(int status);

/* Parses a name as printed by nap_status_name(); -1 if it is not one. */
int nap_status_from_name(const char *name);

/* The status for an errno value (negative or not) that a client of a
 * server (dockerd, etcd, fleet, a registry) returned, the one mapping every
 * plugin uses (docs/protocol.md, "Status codes"): ECONNREFUSED, ECONNRESET,
 * ETIMEDOUT, EAGAIN and EIO (the server is down, stuck or failing: try
 * again) give NAP_UNAVAILABLE; ECANCELED NAP_CANCELLED; EINVAL
 * NAP_INVALID_ARGUMENT; ENOENT NAP_NOT_FOUND; EEXIST NAP_ALREADY_EXISTS;
 * EACCES and EPERM NAP_PERMISSION_DENIED; ENOMEM NAP_RESOURCE_EXHAUSTED; 0
 * NAP_OK; anything else NAP_INTERNAL. */
int nap_status_from_errno(int err);

/* Text for a negative errno value returned by a libnap function. */
const char *nap_strerror(int err);

/* A failed call: its status and a human message (always NUL-terminated). */
typedef struct nap_error {
	int status;
	char message[512];
} nap_error;

#ifdef __cplusplus
}
#endif
#endif
