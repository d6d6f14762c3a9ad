/* Test fixtures: the control channel of the fake plugins.
 *
 * A fake plugin listens on a Unix stream socket (its `control_socket`
 * setting) so that a test script can act on it from outside, as it would
 * with `docker kill`. One text command per line; the reply is zero or more
 * data lines, then one status line: "OK", or "ERR <why>". tests/reconciler/
 * fake-ctl.c is the client.
 *
 * Every fake understands "crash": it replies OK, closes the connection and
 * aborts (napd restarts the plugin; everything it held in memory is gone).
 * Other commands go to the plugin's handler. One thread serves one
 * connection at a time. */
#ifndef NAP_TESTS_FAKE_CONTROL_H
#define NAP_TESTS_FAKE_CONTROL_H

#include <stdio.h>

/* Longest command line, and most words in one. */
#define FAKE_CONTROL_LINE_MAX 1024
#define FAKE_CONTROL_ARGS_MAX 8

/* Handles one command of argc (>= 1) words. Writes data lines to out;
 * returns NULL for OK, or the reason for ERR (a constant or a string in
 * err, err_len bytes). */
typedef const char *(*fake_control_fn)(int argc, char **argv, FILE *out, char *err, size_t err_len,
				       void *ud);

struct fake_control;

/* Listens on path (an old socket file there is removed first) and serves
 * it on a thread of its own. name prefixes the log lines. Returns 0 or a
 * negative errno. */
int fake_control_start(struct fake_control **cp, const char *name, const char *path,
		       fake_control_fn fn, void *ud);
/* Stops the thread, closes and removes the socket. NULL is fine. */
void fake_control_stop(struct fake_control *c);

/* Milliseconds since the epoch, and a sleep, for the fakes. */
unsigned long long fake_now_ms(void);
void fake_sleep_ms(unsigned ms);

#endif
