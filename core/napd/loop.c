#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <nap/bus.h>

#include "loop.h"

#define MAX_EVENTS 256

static struct {
	int epfd;
	bool quit;
	struct loop_timer *timers; /* unsorted: napd has a handful */
	void (*idle)(void);
	uint64_t (*next_deadline)(void);
} L = {.epfd = -1};

int loop_init(void)
{
	L.epfd = epoll_create1(EPOLL_CLOEXEC);
	return L.epfd < 0 ? -errno : 0;
}

void loop_done(void)
{
	if (L.epfd >= 0)
		close(L.epfd);
	L.epfd = -1;
	L.timers = NULL;
}

int loop_add(struct loop_io *io)
{
	struct epoll_event ev = {.events = io->events ? io->events : EPOLLIN, .data.ptr = io};
	io->events = ev.events;
	return epoll_ctl(L.epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? -errno : 0;
}

int loop_mod(struct loop_io *io, uint32_t events)
{
	if (io->events == events)
		return 0;
	struct epoll_event ev = {.events = events, .data.ptr = io};
	io->events = events;
	return epoll_ctl(L.epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop_io *io)
{
	(void)epoll_ctl(L.epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void loop_timer_arm(struct loop_timer *t, uint64_t delay_us)
{
	loop_timer_disarm(t);
	t->when = nap_now_usec() + delay_us;
	if (t->when == 0)
		t->when = 1;
	t->next = L.timers;
	L.timers = t;
}

void loop_timer_disarm(struct loop_timer *t)
{
	for (struct loop_timer **pp = &L.timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->when = 0;
	t->next = NULL;
}

void loop_set_idle(void (*idle)(void), uint64_t (*next_deadline)(void))
{
	L.idle = idle;
	L.next_deadline = next_deadline;
}

void loop_quit(void)
{
	L.quit = true;
}

static void run_timers(uint64_t now)
{
	/* Restart the scan after each expiry: a timer function may arm or
	 * disarm timers. */
	bool again = true;
	while (again) {
		again = false;
		for (struct loop_timer *t = L.timers; t; t = t->next) {
			if (t->when <= now) {
				loop_timer_disarm(t);
				t->fn(t->ud);
				again = true;
				break;
			}
		}
	}
}

static int wait_ms(uint64_t now)
{
	uint64_t next = 0;
	for (struct loop_timer *t = L.timers; t; t = t->next)
		if (!next || t->when < next)
			next = t->when;
	if (L.next_deadline) {
		uint64_t d = L.next_deadline();
		if (d && (!next || d < next))
			next = d;
	}
	if (!next)
		return -1;
	if (next <= now)
		return 0;
	uint64_t ms = (next - now + 999) / 1000;
	return ms > 60000 ? 60000 : (int)ms;
}

int loop_run(void)
{
	struct epoll_event evs[MAX_EVENTS];
	L.quit = false;
	while (!L.quit) {
		/* Queued output goes out before napd sleeps (the first round
		 * included: plugins wait for napd's HELLO). */
		if (L.idle)
			L.idle();
		int n = epoll_wait(L.epfd, evs, MAX_EVENTS, wait_ms(nap_now_usec()));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct loop_io *io = evs[i].data.ptr;
			io->fn(io->ud, evs[i].events);
		}
		run_timers(nap_now_usec());
	}
	return 0;
}
