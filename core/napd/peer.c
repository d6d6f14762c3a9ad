#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <nap/frame.h>

#include "log.h"
#include "peer.h"

static struct peer *peers;
static size_t npeers;
/* Memory held for unfinished frames, all peers together (p->held summed). */
static size_t held_total;

/* What a peer said, fit for one log line: control characters become '?'. */
static const char *loggable(const char *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s", s ? s : "");
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return buf;
}

static void peer_gone(struct peer *p, int err, int status, const char *why)
{
	if (p->dead)
		return;
	p->dead = true;
	p->dead_at = nap_now_usec();
	char text[NAP_MESSAGE_MAX];
	if (err == -ESHUTDOWN)
		/* The peer ended the connection with END call id 0 and said why. */
		log_info("%s: closed the connection: %s: %s", p->name, nap_status_name(status),
			 loggable(why, text, sizeof(text)));
	else if (status == NAP_INVALID_ARGUMENT || status == NAP_FAILED_PRECONDITION)
		/* A peer that broke the protocol is worth an operator's look. */
		log_warning("%s: connection closed: %s", p->name, why);
	else if (status == NAP_RESOURCE_EXHAUSTED || status == NAP_DEADLINE_EXCEEDED)
		/* It went past a limit of section 12 of docs/protocol.md. */
		log_notice("%s: connection closed: %s", p->name, why);
	else
		log_debug("%s: disconnected (%s)", p->name, why);
	p->ops->gone(p, status, why);
}

static void on_close(nap_conn *conn, int err, int status, const char *message, void *ud)
{
	(void)conn;
	peer_gone(ud, err, status, message);
}

/* Accounts for what p holds of an unfinished frame; past the limit for all
 * connections together, the peer that grew gets RESOURCE_EXHAUSTED. */
static void account_input(struct peer *p)
{
	/* Plugin hosts are napd's own children: the limits are for clients. */
	size_t held = p->dead || p->owner ? 0 : nap_conn_unfinished(p->conn, NULL);
	held_total = held_total - p->held + held;
	p->held = held;
	if (held == 0 || held_total <= NAP_INPUT_TOTAL_MAX)
		return;
	nap_conn_abort(p->conn, NAP_RESOURCE_EXHAUSTED,
		       "napd holds %zu MiB of unfinished frames for all its connections, over "
		       "the limit of %u MiB (NAP_INPUT_TOTAL_MAX): a frame of yours was refused; "
		       "send each frame whole, and try again",
		       held_total >> 20, NAP_INPUT_TOTAL_MAX >> 20);
	held_total -= p->held;
	p->held = 0;
}

/* A peer whose frame stopped arriving NAP_FRAME_TIMEOUT_MS ago is cut off. */
static void check_frame_timeout(struct peer *p, uint64_t now)
{
	uint64_t since = 0;
	size_t held = p->owner ? 0 : nap_conn_unfinished(p->conn, &since);
	if (!held || !since || now < since + NAP_FRAME_TIMEOUT_MS * 1000ull)
		return;
	nap_conn_abort(p->conn, NAP_DEADLINE_EXCEEDED,
		       "a frame was not whole %u ms after its first byte (NAP_FRAME_TIMEOUT_MS): "
		       "send each frame whole",
		       NAP_FRAME_TIMEOUT_MS);
	account_input(p);
}

/* The owner hears of the HELLO once, before any frame that follows it. */
static void greet(struct peer *p)
{
	if (p->greeted || p->dead || !nap_conn_peer_ready(p->conn))
		return;
	p->greeted = true;
	if (p->ops->hello)
		p->ops->hello(p, NULL);
}

static void on_incoming(nap_conn *conn, const Nap__Bus__Frame *f, void *ud)
{
	struct peer *p = ud;
	if (!nap_conn_peer_ready(conn)) {
		nap_conn_abort(conn, NAP_FAILED_PRECONDITION,
			       "the first frame on a nap connection must be a HELLO "
			       "(see docs/protocol.md)");
		return;
	}
	greet(p);
	if (p->dead)
		return;
	if (f->kind != NAP__BUS__KIND__HELLO)
		p->ops->incoming(p, f);
	else if (p->ops->hello)
		p->ops->hello(p, f);
	else
		nap_conn_abort(conn, NAP_INVALID_ARGUMENT,
			       "a second HELLO on one connection: a peer says HELLO once "
			       "(docs/protocol.md section 3)");
}

static void on_io(void *ud, uint32_t events)
{
	struct peer *p = ud;
	(void)events;
	if (p->dead) {
		/* Closing: its last frames are still going out. */
		nap_conn_flush(p->conn);
		return;
	}
	nap_conn_process(p->conn);
	account_input(p);
	greet(p);
}

int peer_new(struct peer **pp, int fd, const char *name, const struct peer_ops *ops, void *owner)
{
	struct peer *p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	/* napd's HELLO goes out with the first flush. */
	int r = nap_conn_adopt(&p->conn, fd, "napd", owner == NULL);
	if (r < 0) {
		close(fd);
		free(p);
		return r;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ops = ops;
	p->owner = owner;
	p->io = (struct loop_io){.fd = fd, .events = EPOLLIN, .fn = on_io, .ud = p};
	nap_conn_set_userdata(p->conn, p);
	nap_conn_set_incoming(p->conn, on_incoming, p);
	nap_conn_set_close(p->conn, on_close, p);
	r = loop_add(&p->io);
	if (r < 0) {
		nap_conn_free(p->conn);
		free(p);
		return r;
	}
	p->next = peers;
	peers = p;
	npeers++;
	*pp = p;
	return 0;
}

void peer_kill(struct peer *p, const char *why)
{
	peer_gone(p, -ECONNABORTED, NAP_UNAVAILABLE, why);
}

static void peer_free(struct peer *p)
{
	npeers--;
	held_total -= p->held;
	loop_del(&p->io);
	nap_conn_free(p->conn);
	nap_idmap_release(&p->calls);
	free(p);
}

void peers_idle(void)
{
	uint64_t now = nap_now_usec(), t;
	/* First the timeouts of every peer, since what one peer's expiry
	 * queues goes out on another's connection (a call to a plugin ends
	 * its client's call): all output is queued before any is flushed. */
	for (struct peer *p = peers; p; p = p->next) {
		/* Calls napd made whose deadline passed end now, not at the next
		 * frame from that peer. */
		if (!p->dead && nap_conn_get_timeout(p->conn, &t) == 0 && t <= now)
			on_io(p, 0);
		if (!p->dead)
			check_frame_timeout(p, now);
	}
	struct peer **pp = &peers;
	while (*pp) {
		struct peer *p = *pp;
		if (!p->dead) {
			if (nap_conn_pending(p->conn) > 0)
				nap_conn_flush(p->conn);
			if (!p->dead) {
				loop_mod(&p->io, nap_conn_pending(p->conn) > 0
							 ? (EPOLLIN | EPOLLOUT)
							 : EPOLLIN);
				pp = &p->next;
				continue;
			}
		}
		/* A client being told why it is cut off gets NAP_FRAME_TIMEOUT_MS
		 * to read the rest; napd waits for it to be writable only. A
		 * plugin host's EOF is what stops it (napd stopping, or the
		 * plugin refused): it is closed at once. */
		if (!p->owner && nap_conn_pending(p->conn) > 0 &&
		    now < p->dead_at + NAP_FRAME_TIMEOUT_MS * 1000ull) {
			loop_mod(&p->io, EPOLLOUT);
			pp = &p->next;
			continue;
		}
		/* Freed here, after the round of events, so that no event still
		 * in the round points at it. */
		*pp = p->next;
		peer_free(p);
	}
}

void peers_finish(void)
{
	while (peers) {
		struct peer *p = peers;
		peer_gone(p, -ECONNABORTED, NAP_UNAVAILABLE, "napd is shutting down");
		peers = p->next;
		peer_free(p);
	}
}

uint64_t peers_next_deadline(void)
{
	uint64_t next = 0, t;
	for (struct peer *p = peers; p; p = p->next) {
		if (p->dead) {
			t = p->dead_at + NAP_FRAME_TIMEOUT_MS * 1000ull;
			if (nap_conn_pending(p->conn) > 0 && (!next || t < next))
				next = t;
			continue;
		}
		if (nap_conn_get_timeout(p->conn, &t) == 0 && (!next || t < next))
			next = t;
		if (p->held && nap_conn_unfinished(p->conn, &t) && t) {
			t += NAP_FRAME_TIMEOUT_MS * 1000ull;
			if (!next || t < next)
				next = t;
		}
	}
	return next;
}

void peers_close_all(void)
{
	for (struct peer *p = peers; p; p = p->next) {
		/* Plugin hosts are the supervisor's to stop. */
		if (p->dead || p->owner)
			continue;
		/* Tell clients why before the socket goes. */
		nap_conn_abort(p->conn, NAP_UNAVAILABLE, "napd is shutting down");
		peer_gone(p, -ECONNABORTED, NAP_UNAVAILABLE, "napd is shutting down");
	}
	peers_idle();
}

size_t peers_count(void)
{
	return npeers;
}
