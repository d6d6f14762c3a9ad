/* Test fixture: fake-scheduler, a nap.Scheduler whose instances live in
 * the plugin's own process.
 *
 * An instance is a real TCP listener on 127.0.0.1 (so a readiness check
 * connects for real) that answers any HTTP request with a short page naming
 * app, release and instance. Its behaviour comes from the Run request's
 * environment (FAKE_* variables) and from the control channel (kill,
 * unhealthy, healthy). See fake-scheduler.c for the list.
 *
 *  - fake-instances.c owns the instances and their one network thread: it
 *    alone listens, accepts and closes listeners; other threads change what
 *    an instance should be and wait until that thread has applied it
 *    (fs_apply), so a reply to Remove or kill means the port is closed.
 *  - fake-scheduler.c is the plugin: methods, watchers, control commands.
 *
 * Everything in struct fsched is under its lock. */
#ifndef NAP_TESTS_FAKE_SCHEDULER_H
#define NAP_TESTS_FAKE_SCHEDULER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nap/plugin.h>
#include <nap/scheduler.pb-c.h>

#include "fake-control.h"

/* An instance told to exit at once dies this long after it started. */
#define FAKE_EXIT_AT_ONCE_MS 10u
/* The network thread looks at timers at least this often. */
#define FAKE_TICK_MS 10

/* What Run's environment asks of an instance. */
struct fbehaviour {
	uint32_t start_delay_ms; /* FAKE_START_DELAY_MS: listen only after this */
	bool exit_at_once;       /* FAKE_EXIT_AT_ONCE=CODE */
	int exit_code;
	uint32_t http_status; /* FAKE_HTTP_STATUS: default 200 */
	uint32_t flap_ms;     /* FAKE_FLAP_MS: listener closed/open every N ms */
};

/* What the outside may see of an instance (events, List, list). */
struct fsnap {
	char app[64];
	char id[160];
	uint32_t release, instance, port;
	bool running;
	int exit_code;
	uint64_t started_ms;
};

struct finst {
	struct finst *next;
	struct fsnap s;
	struct fbehaviour b;
	int fd;         /* bound socket (network thread closes it), or -1 */
	bool listening; /* listen() done on fd */
	bool unhealthy; /* control: "unhealthy" (the listener is closed) */
	bool flap_down; /* FAKE_FLAP_MS: in a closed half-period */
	uint64_t next_flap_ms;
	bool gone; /* removed: the network thread closes and frees it */
};

struct fevent {
	struct fevent *next;
	char kind[16];
	struct fsnap s;
};

struct fwatcher {
	struct fwatcher *next;
	char app[64]; /* "" = every app */
	struct fevent *head, *tail;
	pthread_cond_t cond;
};

/* An Announce (or a Withdraw) for the announcer thread to make. */
struct fjob {
	struct fjob *next;
	bool announce;
	struct fsnap s;
};

struct fapp_runs {
	struct fapp_runs *next;
	char app[64];
	uint64_t *times; /* start time of each instance Run started */
	size_t n, cap;
};

struct fsched {
	const nap_host *host;
	pthread_mutex_t lock;
	pthread_cond_t applied; /* done_gen moved */
	struct finst *insts;    /* in start order */
	struct fwatcher *watchers;
	struct fapp_runs *runs;
	uint64_t seq; /* instances started so far: the n of their ids */
	uint64_t want_gen, done_gen;
	int wake[2]; /* pipe: wakes the network thread */
	bool stop;
	pthread_t net;
	struct fake_control *control;
	/* Setting announcer = sidekick: fake-announcer.c's queue and thread. */
	bool sidekick;
	struct fjob *jobs, *jobs_tail;
	pthread_cond_t jobs_cond;
	pthread_t announcer;
	bool announcer_started;
};

/* ---- fake-instances.c (call with fs->lock held unless said) ---- */

/* Starts the network thread (lock not held). */
int fs_net_start(struct fsched *fs);
/* Stops it and frees every instance (lock not held). */
void fs_net_stop(struct fsched *fs);
/* A new running instance of app/release/instance, bound to a port of
 * 127.0.0.1, appended to the list; "started" goes to the watchers. NULL
 * with errno set if no socket could be had. */
struct finst *fs_inst_start(struct fsched *fs, const char *app, uint32_t release, uint32_t instance,
			    const struct fbehaviour *b);
/* The instance dies with code: "died" goes to the watchers. */
void fs_inst_die(struct fsched *fs, struct finst *i, int code);
/* The instance is removed: "removed" goes to the watchers. */
void fs_inst_remove(struct fsched *fs, struct finst *i);
/* Waits until the network thread has applied every change made so far. */
void fs_apply(struct fsched *fs);
/* Sends kind with snapshot s to every watcher of its app. */
void fs_emit(struct fsched *fs, const char *kind, const struct fsnap *s);

/* ---- fake-announcer.c ---- */

/* Starts the announcer thread when fs->sidekick (lock not held). */
int fs_announcer_start(struct fsched *fs);
/* Stops it; jobs not made yet are dropped (lock not held). */
void fs_announcer_stop(struct fsched *fs);
/* With fs->sidekick: the instance began (listening true) or stopped
 * accepting connections: announce or withdraw it (lock held). */
void fs_announce_queue(struct fsched *fs, const struct fsnap *s, bool listening);

/* ---- fake-scheduler.c ---- */

/* Fills msg (pointing into s) from a snapshot. */
void fs_snap_to_msg(Nap__Instance *msg, const struct fsnap *s);

#endif
