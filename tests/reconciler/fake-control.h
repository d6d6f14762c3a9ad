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
 * And these, for faults at any step of an operation (METHOD as in the
 * .proto, e.g. Run or PutRecord; a fault lasts until it is used up, the
 * plugin restarts, or "clear"):
 *   fail METHOD [COUNT [STATUS]]  the next COUNT calls (default 1; 0 =
 *                                 every call) end with STATUS (a name;
 *                                 default UNAVAILABLE) doing nothing
 *   crash-on METHOD [before|after] [SKIP]
 *                                 after letting SKIP calls pass (default
 *                                 0), the plugin aborts on the next call:
 *                                 before doing anything (default), or
 *                                 after doing its work, before replying
 *   delay METHOD MS [COUNT]       the next COUNT calls (default 0 = every
 *                                 call) wait MS first (a cancel cuts it)
 *   clear [METHOD]                disarm every fault (of METHOD)
 *   calls METHOD                  "N": calls of METHOD since the start
 *   faults                        the armed faults, one per line
 * Other commands go to the plugin's handler. One thread serves one
 * connection at a time. */
#ifndef NAP_TESTS_FAKE_CONTROL_H
#define NAP_TESTS_FAKE_CONTROL_H

#include <stdbool.h>
#include <stdio.h>

#include <nap/plugin.h>

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
 * it on a thread of its own. fn may be NULL (a fake with no commands of its
 * own). Returns 0 or a negative errno. */
int fake_control_start(struct fake_control **cp, const char *name, const char *path,
		       fake_control_fn fn, void *ud);
/* Stops the thread, closes and removes the socket. NULL is fine. */
void fake_control_stop(struct fake_control *c);

/* ---- injected faults (fake-faults.c) ---- */

/* First thing in every method handler: counts the call and applies what
 * is armed for method: waits (delay), aborts (crash-on before) or ends the
 * call (fail), and then returns true: the handler must return at once. */
bool fake_fault_begin(const nap_host *host, nap_plugin_call *call, const char *method);
/* Just before a handler replies (or ends a stream OK): aborts if
 * "crash-on METHOD after" picked this call. */
void fake_fault_end(const nap_host *host, const char *method);
/* The fault commands above: 0 if argv[0] is not one of them; else 1, with
 * data lines written to out and *whyp NULL (OK) or the reason (ERR). */
int fake_faults_command(int argc, char **argv, FILE *out, const char **whyp);

/* Milliseconds since the epoch, and a sleep, for the fakes. */
unsigned long long fake_now_ms(void);
void fake_sleep_ms(unsigned ms);

#endif
