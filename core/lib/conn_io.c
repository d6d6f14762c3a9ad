/* A bus connection's I/O: the queue of frames going out (bounded by
 * NAP_OUTPUT_MAX), non-blocking writes and reads, and the dispatch of each
 * frame that comes in to the side it concerns: calls this side started
 * (caller.c), calls the peer started (the owner's incoming callback), the
 * HELLO (conn.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nap/bus.h>
#include <nap/frame.h>

#include "arena.h"
#include "conn.h"

/* How much one nap_conn_process() reads before it lets others have a turn. */
#define READ_CHUNK (64u * 1024u)
#define READ_BUDGET (1024u * 1024u)
/* Queued output past this is written at once rather than at the next flush. */
#define OUT_HIGH_WATER (256u * 1024u)
/* An empty input buffer larger than this is given back (it held a big frame). */
#define IN_KEEP (2u * READ_CHUNK)

/* --- output --- */

/* Drops n sent bytes from the front of the output, keeping track of where
 * the frame being sent ends (frames in `out` are always whole). */
static void out_consume(nap_conn *c, size_t n)
{
	const uint8_t *p = nap_buf_head(&c->out);
	for (size_t off = 0; off < n;) {
		if (c->out_left == 0)
			c->out_left = NAP_FRAME_HEADER_SIZE +
				      ((size_t)p[off] << 24 | (size_t)p[off + 1] << 16 |
				       (size_t)p[off + 2] << 8 | p[off + 3]);
		size_t take = c->out_left < n - off ? c->out_left : n - off;
		c->out_left -= take;
		off += take;
	}
	nap_buf_consume(&c->out, n);
}

/* The peer does not read: NAP_OUTPUT_MAX is queued. What it will never get
 * is dropped (all but the rest of the frame it is in the middle of), an END
 * call id 0 says why in its place, and the connection ends. */
static void out_overflow(nap_conn *c)
{
	char msg[NAP_MESSAGE_MAX];
	snprintf(msg, sizeof(msg),
		 "the peer does not read what it is sent: %u MiB of output queued "
		 "(NAP_OUTPUT_MAX); connection closed",
		 NAP_OUTPUT_MAX >> 20);
	c->out.len = c->out_left;
	(void)conn_end_frame(c, 0, NAP_RESOURCE_EXHAUSTED, msg, NULL, 0, NULL);
	conn_closing_flush(c);
	conn_fail(c, -ENOBUFS, NAP_RESOURCE_EXHAUSTED, msg);
}

int conn_queue_frame(nap_conn *c, const Nap__Bus__Frame *f, const ProtobufCMessage *msg)
{
	if (c->dead)
		return -ENOTCONN;
	char why[160];
	if (msg && nap_message_utf8_check(msg, why, sizeof(why)) < 0) {
		/* Never send what a conforming decoder refuses: a reply ends
		 * its call with INTERNAL instead (later frames for it are
		 * ignored); a caller's request is refused to the caller. */
		if (f->call_id && !f->from_caller)
			(void)nap_conn_end(c, f->call_id, NAP_INTERNAL,
					   "reply not sent: %s (a bug of the callee)", why);
		return -EILSEQ;
	}
	size_t n = nap_frame_size(f, msg);
	if (n - NAP_FRAME_HEADER_SIZE > NAP_FRAME_MAX)
		return -EMSGSIZE;
	if (c->out.len + n > NAP_OUTPUT_MAX) {
		out_overflow(c);
		return -ENOBUFS;
	}
	int r = nap_buf_reserve(&c->out, n);
	if (r < 0)
		return r;
	c->out.len += nap_frame_pack(f, msg, nap_buf_tail(&c->out));
	if (c->out.len >= OUT_HIGH_WATER)
		(void)nap_conn_flush(c);
	return 0;
}

int nap_conn_flush(nap_conn *c)
{
	if (c->dead && !c->closing)
		return -ENOTCONN;
	while (c->out.len > 0) {
		ssize_t w = send(c->fd, nap_buf_head(&c->out), c->out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			int err = -errno;
			c->closing = false;
			nap_buf_consume(&c->out, c->out.len);
			/* A peer that closed on us (napd refusing a client) may
			 * have said why first: read that before giving up. */
			if (err == -EPIPE || err == -ECONNRESET)
				(void)nap_conn_process(c);
			if (!c->dead)
				conn_fail(c, err, NAP_UNAVAILABLE, "connection lost");
			return err;
		}
		out_consume(c, (size_t)w);
	}
	if (c->closing) {
		/* The END call id 0 is out: now the peer may see EOF. */
		shutdown(c->fd, SHUT_WR);
		c->closing = false;
	}
	return 0;
}

/* Writes what it can of a closing connection's last frames (the END call
 * id 0 last). What does not fit now stays queued: the connection is dead
 * but its owner may go on flushing it (nap_conn_pending() > 0) before it
 * frees it, so that a slow reader still learns why. */
void conn_closing_flush(nap_conn *c)
{
	if (c->dead)
		return;
	c->closing = true;
	(void)nap_conn_flush(c);
}

size_t nap_conn_pending(const nap_conn *c)
{
	if (c->dead && !c->closing)
		return 0;
	return c->out.len;
}

void conn_fail(nap_conn *c, int err, int status, const char *message)
{
	if (c->dead)
		return;
	c->dead = true;
	/* The owner hears first, so that the calls' callbacks see the
	 * connection's end already accounted for. */
	if (c->on_close)
		c->on_close(c, err, status, message, c->close_ud);
	/* One at a time: a callback may end other calls of this conn. */
	uint64_t id;
	void *call;
	while (nap_idmap_pop(&c->calls, &id, &call) > 0)
		call_end(call, status, message, NULL, 0);
	c->ndeadlines = 0;
	c->nhello_wait = 0;
}

/* --- input --- */

static void dispatch(nap_conn *c, const Nap__Bus__Frame *f)
{
	switch (f->kind) {
	case NAP__BUS__KIND__HELLO:
		conn_take_hello(c, f);
		return;
	case NAP__BUS__KIND__CALL:
	case NAP__BUS__KIND__CANCEL:
		if (c->incoming)
			c->incoming(c, f, c->incoming_ud);
		else if (f->kind == NAP__BUS__KIND__CALL)
			nap_conn_end(c, f->call_id, NAP_UNIMPLEMENTED,
				     "this peer provides no services");
		return;
	case NAP__BUS__KIND__MESSAGE:
	case NAP__BUS__KIND__END:
		if (f->kind == NAP__BUS__KIND__END && f->call_id == 0) {
			/* The peer ends the whole connection and says why. */
			if (!c->dead) {
				c->peer_end_status = f->status;
				snprintf(c->peer_end_message, sizeof(c->peer_end_message), "%s",
					 f->message ? f->message : "");
			}
			conn_fail(c, -ESHUTDOWN, f->status, f->message);
			return;
		}
		if (f->from_caller) {
			/* A request message or half-close of a call the peer
			 * started: whoever serves it hears (no owner: no call
			 * of the peer's is served, so there is nothing to end). */
			if (c->incoming)
				c->incoming(c, f, c->incoming_ud);
			return;
		}
		calls_dispatch(c, f);
		return;
	case NAP__BUS__KIND__WINDOW:
		calls_dispatch(c, f);
		return;
	default:
		return; /* nap_frame_check() let no other kind through */
	}
}

/* Room to read into: a chunk, or once a frame's length is known, the rest
 * of that frame, so that a big frame's buffer is the frame's size (not the
 * next power of two) and is allocated once. */
static size_t in_want(nap_conn *c)
{
	if (c->in.len < NAP_FRAME_HEADER_SIZE)
		return READ_CHUNK;
	const uint8_t *p = nap_buf_head(&c->in);
	size_t n = NAP_FRAME_HEADER_SIZE +
		   ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
	if (n > NAP_FRAME_HEADER_SIZE + NAP_FRAME_MAX || n <= c->in.len)
		return READ_CHUNK;
	return n > READ_CHUNK ? n - c->in.len : READ_CHUNK;
}

/* A frame being dispatched may point into `in` (nap_frame_take_view): a
 * nested nap_conn_process() (a callback that waits on this connection, a
 * send that failed and reads why) reads into a buffer of its own, with the
 * bytes not taken yet, and leaves the old one to the dispatch that sees its
 * buffer swapped. 0, or -ENOMEM. */
static int in_unpin(nap_conn *c)
{
	if (c->in_views == 0)
		return 0;
	nap_buf fresh = {0};
	if (c->in.len > 0 && nap_buf_append(&fresh, nap_buf_head(&c->in), c->in.len) < 0)
		return -ENOMEM;
	c->in = fresh;
	c->in_views = 0; /* of the new buffer */
	return 0;
}

/* Dispatches f, decoded as a view into c->in when view is set, and frees
 * what the arena holds of it. */
static void dispatch_frame(nap_conn *c, Nap__Bus__Frame *f, bool view, nap_arena *arena)
{
	if (!view) {
		dispatch(c, f);
		nap_arena_reset(arena, &f->base);
		return;
	}
	uint8_t *mine = c->in.data;
	unsigned views = c->in_views++;
	dispatch(c, f);
	if (c->in.data == mine) {
		c->in_views = views;
	} else {
		/* A nested process moved to a buffer of its own: this one is
		 * no longer the connection's, and only this frame used it. */
		free(mine);
	}
	f->payload = (ProtobufCBinaryData){0}; /* not the arena's */
	nap_arena_reset(arena, &f->base);
}

int nap_conn_process(nap_conn *c)
{
	if (c->dead)
		return -ENOTCONN;
	if (in_unpin(c) < 0) {
		conn_fail(c, -ENOMEM, NAP_RESOURCE_EXHAUSTED, "out of memory");
		return -ENOMEM;
	}
	size_t budget = READ_BUDGET;
	bool eof = false;
	bool took = false;
	/* Frames are decoded into it, not malloc'd: each lives only while it
	 * is dispatched. On the stack, so a nested process() has its own. */
	nap_arena arena;
	nap_arena_init(&arena);
	while (budget > 0 && !c->dead) {
		if (nap_buf_reserve(&c->in, in_want(c)) < 0) {
			conn_fail(c, -ENOMEM, NAP_RESOURCE_EXHAUSTED, "out of memory");
			break;
		}
		ssize_t r = recv(c->fd, nap_buf_tail(&c->in), nap_buf_room(&c->in), MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_fail(c, -errno, NAP_UNAVAILABLE, "connection lost");
			break;
		}
		if (r == 0) {
			eof = true;
			break;
		}
		c->in.len += (size_t)r;
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		/* Dispatch as frames complete so that a large read does not
		 * hold back the first replies. */
		for (;;) {
			Nap__Bus__Frame *f = NULL;
			size_t used = 0;
			bool view = false;
			char why[160];
			int t = nap_frame_take_view(&f, &view, &used, nap_buf_head(&c->in),
						    c->in.len, why, sizeof(why), &arena.alloc);
			if (t == 0)
				break;
			if (t < 0) {
				nap_conn_abort(c, NAP_INVALID_ARGUMENT, "malformed frame: %s", why);
				break;
			}
			nap_buf_consume(&c->in, used);
			took = true;
			dispatch_frame(c, f, view, &arena);
			if (c->dead)
				break;
		}
		if ((size_t)r < READ_CHUNK)
			break; /* drained */
	}
	if (!c->dead && (took || !c->in_since))
		c->in_since = c->in.len ? nap_now_usec() : 0;
	if (!c->dead && c->in.len == 0 && c->in.cap > IN_KEEP)
		nap_buf_release(&c->in); /* it held a big frame: give it back */
	if (!c->dead && c->ndeadlines > 0) {
		uint64_t now = nap_now_usec();
		if (now >= c->earliest)
			calls_expire(c, now);
	}
	if (!c->dead && eof)
		conn_fail(c, -ECONNRESET, NAP_UNAVAILABLE,
			  c->in.len ? "connection closed in the middle of a frame"
				    : "connection closed by the peer");
	if (!c->dead)
		(void)nap_conn_flush(c);
	return c->dead ? -ECONNRESET : 0;
}
