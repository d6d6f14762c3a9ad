/* A bus connection's life cycle: connecting or adopting a socket, the HELLO
 * each side says first, the owner's settings, blocking waits, and freeing.
 * The frames themselves go through conn_io.c; calls through caller.c and
 * callee.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/env.h>
#include <nap/frame.h>

#include "conn.h"

uint64_t nap_now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *nap_socket_path(const char *path)
{
	if (path && *path)
		return path;
	const char *env = getenv("NAP_SOCKET");
	if (env && *env)
		return env;
	return NAP_DEFAULT_SOCKET;
}

/* --- HELLO --- */

int nap_conn_send_hello(nap_conn *c, const struct Nap__Bus__Hello *hello)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__HELLO;
	return conn_queue_frame(c, &f, &hello->base);
}

static int send_hello(nap_conn *c, const char *peer_name)
{
	Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
	h.protocol_major = NAP_PROTOCOL_MAJOR;
	h.protocol_minor = NAP_PROTOCOL_MINOR;
	h.peer_name = (char *)(peer_name ? peer_name : "");
	h.peer_version = (char *)PACKAGE_VERSION;
	return nap_conn_send_hello(c, &h);
}

void conn_take_hello(nap_conn *c, const Nap__Bus__Frame *f)
{
	/* A peer says HELLO once. What it said first stands; a second one goes
	 * to the incoming callback, whose owner decides (napd refuses it and
	 * says why), or ends the connection. */
	if (c->peer_hello) {
		if (c->incoming)
			c->incoming(c, f, c->incoming_ud);
		else
			nap_conn_abort(c, NAP_INVALID_ARGUMENT,
				       "a second HELLO on one connection: a peer says HELLO once");
		return;
	}
	Nap__Bus__Hello *h = nap__bus__hello__unpack(NULL, f->payload.len, f->payload.data);
	if (!h) {
		nap_conn_abort(c, NAP_INVALID_ARGUMENT, "HELLO payload is not a nap.bus.Hello");
		return;
	}
	char why[160];
	if (nap_message_utf8_check(&h->base, why, sizeof(why)) < 0) {
		nap_conn_abort(c, NAP_INVALID_ARGUMENT, "HELLO refused: %s", why);
		nap__bus__hello__free_unpacked(h, NULL);
		return;
	}
	if (h->protocol_major != NAP_PROTOCOL_MAJOR) {
		nap_conn_abort(c, NAP_FAILED_PRECONDITION,
			       "peer speaks nap protocol %u.%u, this side speaks %u.%u: upgrade "
			       "the older side",
			       h->protocol_major, h->protocol_minor, NAP_PROTOCOL_MAJOR,
			       NAP_PROTOCOL_MINOR);
		nap__bus__hello__free_unpacked(h, NULL);
		return;
	}
	c->peer_hello = h;
	if (c->nhello_wait)
		calls_peer_known(c);
}

void conn_too_old(const nap_conn *c, uint32_t minor, const char *why, char *buf, size_t n)
{
	const char *name = nap_conn_peer_name(c);
	snprintf(buf, n, "%s speaks protocol %u.%u; this needs %u.%u%s%s%s: upgrade %s",
		 *name ? name : "the peer", NAP_PROTOCOL_MAJOR, conn_peer_minor(c),
		 NAP_PROTOCOL_MAJOR, minor, why ? " (" : "", why ? why : "", why ? ")" : "",
		 *name ? name : "it");
	nap_utf8_repair(buf);
}

int nap_conn_require(nap_conn *c, uint32_t minor, int timeout_ms, nap_error *err)
{
	uint64_t until = timeout_ms >= 0 ? nap_now_usec() + (uint64_t)timeout_ms * 1000u : 0;
	while (!conn_peer_known(c) && !c->dead) {
		int left = -1;
		if (timeout_ms >= 0) {
			uint64_t now = nap_now_usec();
			if (now >= until)
				break;
			left = (int)((until - now + 999) / 1000);
		}
		(void)nap_conn_wait(c, left);
	}
	int r = 0, status = NAP_OK;
	char msg[sizeof(err->message)] = "";
	if (c->dead && c->peer_end_status != NAP_OK && c->peer_end_message[0]) {
		/* The peer said why before HELLO: napd refusing this uid. */
		r = -ENOTCONN;
		status = c->peer_end_status;
		snprintf(msg, sizeof(msg), "%s", c->peer_end_message);
	} else if (c->dead) {
		r = -ENOTCONN;
		status = NAP_UNAVAILABLE;
		snprintf(msg, sizeof(msg), "the connection ended before the peer said HELLO");
	} else if (!conn_peer_known(c)) {
		r = -ETIMEDOUT;
		status = NAP_DEADLINE_EXCEEDED;
		snprintf(msg, sizeof(msg), "the peer did not say HELLO within %d ms", timeout_ms);
	} else if (conn_peer_minor(c) < minor) {
		r = -EPROTONOSUPPORT;
		status = NAP_FAILED_PRECONDITION;
		conn_too_old(c, minor, NULL, msg, sizeof(msg));
	}
	if (r < 0 && err) {
		err->status = status;
		snprintf(err->message, sizeof(err->message), "%s", msg);
	}
	return r;
}

/* --- life cycle --- */

int nap_conn_adopt(nap_conn **connp, int fd, const char *peer_name, bool send_hello_frame)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	nap_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	if (send_hello_frame) {
		int r = send_hello(c, peer_name);
		if (r < 0) {
			free(c);
			return r;
		}
	}
	*connp = c;
	return 0;
}

int nap_socket_dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int nap_conn_connect(nap_conn **connp, const char *path, const char *peer_name)
{
	int fd = nap_socket_dial(nap_socket_path(path));
	if (fd < 0)
		return fd;
	nap_conn *c;
	int r = nap_conn_adopt(&c, fd, peer_name, true);
	if (r < 0) {
		close(fd);
		return r;
	}
	*connp = c;
	return 0;
}

nap_conn *nap_conn_free(nap_conn *c)
{
	if (!c)
		return NULL;
	if (!c->dead) {
		c->on_close = NULL; /* the owner is freeing: it knows */
		conn_fail(c, -ECONNABORTED, NAP_UNAVAILABLE, "connection closed");
	}
	nap_idmap_release(&c->calls);
	nap_buf_release(&c->in);
	nap_buf_release(&c->out);
	if (c->peer_hello)
		nap__bus__hello__free_unpacked(c->peer_hello, NULL);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

void nap_conn_set_incoming(nap_conn *c, nap_incoming_fn fn, void *ud)
{
	c->incoming = fn;
	c->incoming_ud = ud;
}

void nap_conn_set_close(nap_conn *c, nap_close_fn fn, void *ud)
{
	c->on_close = fn;
	c->close_ud = ud;
}

void nap_conn_set_userdata(nap_conn *c, void *ud)
{
	c->userdata = ud;
}

void *nap_conn_get_userdata(const nap_conn *c)
{
	return c->userdata;
}

int nap_conn_get_fd(const nap_conn *c)
{
	return c->fd;
}

short nap_conn_get_events(const nap_conn *c)
{
	return (short)(POLLIN | (c->out.len > 0 ? POLLOUT : 0));
}

int nap_conn_get_timeout(const nap_conn *c, uint64_t *usec)
{
	if (c->ndeadlines == 0)
		return -ENODATA;
	*usec = c->earliest;
	return 0;
}

bool nap_conn_closed(const nap_conn *c)
{
	return c->dead;
}

size_t nap_conn_unfinished(const nap_conn *c, uint64_t *since)
{
	if (c->dead || c->in.len == 0)
		return 0;
	if (since)
		*since = c->in_since;
	return c->in.cap;
}

bool nap_conn_peer_ready(const nap_conn *c)
{
	return c->peer_hello != NULL;
}

const char *nap_conn_peer_name(const nap_conn *c)
{
	return c->peer_hello && c->peer_hello->peer_name ? c->peer_hello->peer_name : "";
}

const Nap__Bus__Hello *nap_conn_peer_hello(const nap_conn *c)
{
	return c->peer_hello;
}

int nap_conn_wait(nap_conn *c, int timeout_ms)
{
	if (c->dead)
		return -ENOTCONN;
	uint64_t dl;
	if (nap_conn_get_timeout(c, &dl) == 0) {
		uint64_t now = nap_now_usec();
		int left = dl <= now ? 0 : (int)((dl - now + 999) / 1000);
		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = left;
	}
	struct pollfd p = {.fd = c->fd, .events = nap_conn_get_events(c)};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0 && errno != EINTR)
		return -errno;
	return nap_conn_process(c);
}
