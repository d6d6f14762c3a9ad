#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "router.h"
#include "supervisor.h"

static struct peer *peers;
static size_t npeers;

static void peer_gone(struct peer *p, int status, const char *why)
{
	if (p->dead)
		return;
	p->dead = true;
	/* A peer that broke the protocol is worth an operator's look. */
	if (status == NAP_INVALID_ARGUMENT || status == NAP_FAILED_PRECONDITION)
		log_warning("%s: connection closed: %s", p->name, why);
	else
		log_debug("%s: disconnected (%s)", p->name, why);
	router_peer_gone(p);
	if (p->plugin)
		supervisor_conn_closed(p->plugin, status, why);
}

static void on_close(nap_conn *conn, int err, int status, const char *message, void *ud)
{
	(void)conn;
	(void)err;
	peer_gone(ud, status, message);
}

static void on_io(void *ud, uint32_t events)
{
	struct peer *p = ud;
	if (p->dead)
		return;
	(void)events;
	nap_conn_process(p->conn);
	if (!p->dead && p->plugin && p->plugin->state == PLUGIN_STARTING &&
	    nap_conn_peer_ready(p->conn))
		supervisor_hello(p->plugin, p);
}

int peer_new(struct peer **pp, int fd, const char *name, struct plugin *plugin)
{
	struct peer *p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	/* napd's HELLO goes out with the first flush. */
	int r = nap_conn_adopt(&p->conn, fd, "napd", plugin == NULL);
	if (r < 0) {
		close(fd);
		free(p);
		return r;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->plugin = plugin;
	p->io = (struct loop_io){.fd = fd, .events = EPOLLIN, .fn = on_io, .ud = p};
	nap_conn_set_userdata(p->conn, p);
	nap_conn_set_incoming(p->conn, router_incoming, p);
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
	peer_gone(p, NAP_UNAVAILABLE, why);
}

void peers_idle(void)
{
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
		/* Freed here, after the round of events, so that no event still
		 * in the round points at it. */
		*pp = p->next;
		npeers--;
		loop_del(&p->io);
		nap_conn_free(p->conn);
		nap_idmap_release(&p->forwarded);
		nap_idmap_release(&p->served);
		free(p);
	}
}

uint64_t peers_next_deadline(void)
{
	uint64_t next = 0, t;
	for (struct peer *p = peers; p; p = p->next)
		if (!p->dead && nap_conn_get_timeout(p->conn, &t) == 0 && (!next || t < next))
			next = t;
	return next;
}

void peers_close_all(void)
{
	for (struct peer *p = peers; p; p = p->next) {
		/* Plugin hosts are the supervisor's to stop. */
		if (p->dead || p->plugin)
			continue;
		/* Tell clients why before the socket goes. */
		nap_conn_abort(p->conn, NAP_UNAVAILABLE, "napd is shutting down");
		peer_gone(p, NAP_UNAVAILABLE, "napd is shutting down");
	}
	peers_idle();
}

size_t peers_count(void)
{
	return npeers;
}
