/* napd's event loop: epoll for file descriptors, a list of timers, and hooks
 * that run after every round of events (where queued output is flushed). */
#ifndef NAPD_LOOP_H
#define NAPD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*loop_io_fn)(void *ud, uint32_t events);
typedef void (*loop_timer_fn)(void *ud);

struct loop_io {
	int fd;
	uint32_t events; /* EPOLLIN / EPOLLOUT as registered */
	loop_io_fn fn;
	void *ud;
};

struct loop_timer {
	uint64_t when; /* CLOCK_MONOTONIC usec; 0 = not armed */
	loop_timer_fn fn;
	void *ud;
	struct loop_timer *next;
};

int loop_init(void);
void loop_done(void);
/* Registers io (owned by the caller, kept alive until loop_del). */
int loop_add(struct loop_io *io);
/* Changes the events waited for; cheap when they do not change. */
int loop_mod(struct loop_io *io, uint32_t events);
void loop_del(struct loop_io *io);
/* Arms (or re-arms) a timer after delay_us. */
void loop_timer_arm(struct loop_timer *t, uint64_t delay_us);
void loop_timer_disarm(struct loop_timer *t);
/* A function called before napd waits for events, and asked for the next
 * wake-up (it returns 0 or a CLOCK_MONOTONIC usec deadline). */
void loop_set_idle(void (*idle)(void), uint64_t (*next_deadline)(void));
/* Runs until loop_quit(). */
int loop_run(void);
void loop_quit(void);

#endif
