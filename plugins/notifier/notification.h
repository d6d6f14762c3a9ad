/* notifier: what is said about one nap.Notification — its checks, the JSON
 * body the webhooks receive and the line the log notifier writes. All
 * functions only read the notification. */
#ifndef NAP_NOTIFIER_NOTIFICATION_H
#define NAP_NOTIFIER_NOTIFICATION_H

#include <stddef.h>

#include <nap/notifier.pb-c.h>

/* Longest log line (bytes, with its NUL); longer ones end with "...". */
#define NOTIFICATION_LINE_MAX 1900

/* The event a notification is about: its event field, "deploy" if empty. */
const char *notification_event(const Nap__Notification *n);

/* Checks n before anything is queued: the app name rule, a non-empty
 * outcome, a short event word, timestamps in range. Returns 0; or -EINVAL
 * with one line for the user in err. */
int notification_check(const Nap__Notification *n, char *err, size_t errlen);

/* The webhook body (a compact JSON object) as a malloc'd string of *lenp
 * bytes. Returns NULL with a reason in err if a string is not UTF-8 (or
 * memory ran out). Call after notification_check(). */
char *notification_json(const Nap__Notification *n, size_t *lenp, char *err, size_t errlen);

/* The log notifier's line into buf (NOTIFICATION_LINE_MAX bytes), e.g.
 * "deploy myapp release 3 succeeded in 2.1 s: http://127.0.0.1:32771" or
 * "deploy myapp release 4 failed at build: <error>". Control characters in
 * the strings become spaces. */
void notification_line(const Nap__Notification *n, char *buf);

#endif
