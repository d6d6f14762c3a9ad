/* notifier: the spool, a directory that keeps every accepted notification
 * until it is delivered, so that a notifier that crashes or is stopped
 * loses nothing: the next start delivers what the spool holds.
 *
 * One file per notification, named so that names sort in the order the
 * notifications arrived ("<unix-ns>-<pid>-<seq>.notice"). It is written to a
 * dot-file, synced and renamed into place before Notify answers, and
 * removed once every webhook has had it (or refused it for good). A file
 * holds a version line, the event, the "what" for the log and the JSON
 * body, each of the first three on a line of its own.
 *
 * Thread-safety: spool_write() runs on the host's loop, spool_remove() on
 * the queue's thread; they touch different files. */
#ifndef NAP_NOTIFIER_SPOOL_H
#define NAP_NOTIFIER_SPOOL_H

#include <nap/plugin.h>

#include "queue.h"

/* Creates dir (and its parents, mode 0700) if missing and checks that
 * files can be made in it. Returns 0, or a negative errno after logging one
 * line saying what to fix. */
int spool_open(const char *dir, const nap_host *host);

/* Writes n into dir and records its file name in n->file (malloc'd).
 * Returns 0, or a negative errno with a reason in err. */
int spool_write(const char *dir, struct notice *n, char *err, size_t errlen);

/* Removes n's file, if it has one; a failure is logged. */
void spool_remove(const char *dir, const struct notice *n, const nap_host *host);

/* Reads every notification in dir, oldest first, and passes each to push
 * (which takes it). Unreadable files are logged and left alone; a dot-file
 * a crash left half-written is removed. Returns how many were read. */
size_t spool_load(const char *dir, void (*push)(struct notice *n, void *user), void *user,
		  const nap_host *host);

#endif
