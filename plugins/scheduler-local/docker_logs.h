/* scheduler-local: reading containers' logs from the Docker Engine API
 * (GET /containers/<id>/logs), which plugins/common's client does not do.
 *
 * Containers run without a TTY, so Docker sends its multiplexed stream:
 * frames of an 8-byte header [stream (1 stdout, 2 stderr), 0, 0, 0, length
 * as 32-bit big-endian] and that many bytes of output. This splits the
 * output into lines, per container and per stream, and hands them over one
 * at a time. (A container with a TTY gets a raw stream; that is read as
 * plain output.)
 *
 * Thread-safety: any number of calls may run at once; the caller must have
 * called curl_global_init(). */
#ifndef NAP_SCHEDULER_LOCAL_DOCKER_LOGS_H
#define NAP_SCHEDULER_LOCAL_DOCKER_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A line longer than this is handed over in pieces of this size. */
#define SL_LOG_LINE_MAX 16384u

struct sl_log_source {
	const char *id;    /* container ID (validated by the caller) */
	uint32_t instance; /* passed back with each of its lines */
};

/* One line without its newline (and without a trailing CR): len bytes at
 * line, NUL-terminated, valid during the call only; it may hold any bytes.
 * stream is 1 (stdout) or 2 (stderr). Return 0 to go on, or a negative
 * errno to stop reading everything (sl_docker_logs returns it). */
typedef int (*sl_log_line_fn)(void *user, uint32_t instance, int stream, const char *line,
			      size_t len);
/* Polled at least every 200 ms: true ends the reading with -ECANCELED. */
typedef bool (*sl_log_cancel_fn)(void *user);

/* Reads the logs of n containers at once (their lines interleave as they
 * come), stdout and stderr, the last tail lines of each (0: all of them),
 * and with follow goes on until every container has stopped or cancelled()
 * says so. A container that disappeared (404) is skipped. Returns 0, or a
 * negative errno with one line in err: -ECONNREFUSED (dockerd is not
 * answering on socket), -ECANCELED, -EIO (Docker refused, with its reason),
 * -EPROTO, -ENOMEM, or what line() returned. */
int sl_docker_logs(const char *socket, const struct sl_log_source *sources, size_t n, bool follow,
		   uint32_t tail, sl_log_line_fn line, sl_log_cancel_fn cancelled, void *user,
		   char *err, size_t errlen);

#endif
