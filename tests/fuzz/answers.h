/* Fuzz helpers: a fuzz input read as a server's answers, one after the
 * other, for the fake transports (fake_http.c, fake_fleet_http.c).
 *
 * Answers are separated by a line "===". Each may start with a status
 * ("404 " or "404\n"); without one it is 200. The rest is the body, as the
 * server would send it (for a stream, one JSON object or more per line). */
#ifndef NAP_FUZZ_ANSWERS_H
#define NAP_FUZZ_ANSWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct answer {
	long status;
	const char *body;
	size_t len;
};

/* Starts reading data (not copied: keep it until done). */
void answers_reset(const uint8_t *data, size_t size);
/* The next answer; false when none is left (the fake then fails the
 * request as if the server had gone away). */
bool answers_next(struct answer *a);

/* The body of the last request with a body sent through a fake transport
 * (a copy, NUL-terminated), or NULL; valid until the next such request or
 * a reset. */
const char *answers_last_request(void);
void answers_set_last_request(const void *body, size_t len);

#endif
