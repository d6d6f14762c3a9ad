/* The callee side of a bus connection: answering calls the peer started
 * (replies, stream messages, ends), granting credit for their request
 * streams (WINDOW, protocol 1.2), and ending the whole connection. The
 * calls themselves are tracked by the owner, which hears of them through
 * its nap_incoming_fn. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <nap/bus.h>
#include <nap/env.h>

#include "conn.h"

int conn_end_frame(nap_conn *c, uint64_t id, int status, const char *message,
		   const uint8_t *payload, size_t len, const ProtobufCMessage *msg)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__END;
	f.call_id = id;
	f.status = (Nap__Bus__Status)status;
	f.message = (char *)(message ? message : "");
	f.payload.data = (uint8_t *)payload;
	f.payload.len = len;
	return conn_queue_frame(c, &f, msg);
}

int nap_conn_reply(nap_conn *c, uint64_t id, const ProtobufCMessage *msg)
{
	return conn_end_frame(c, id, NAP_OK, NULL, NULL, 0, msg);
}

int nap_conn_reply_raw(nap_conn *c, uint64_t id, const uint8_t *payload, size_t len)
{
	return conn_end_frame(c, id, NAP_OK, NULL, payload, len, NULL);
}

int nap_conn_send(nap_conn *c, uint64_t id, const ProtobufCMessage *msg)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__MESSAGE;
	f.call_id = id;
	return conn_queue_frame(c, &f, msg);
}

int nap_conn_send_raw(nap_conn *c, uint64_t id, const uint8_t *payload, size_t len)
{
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__MESSAGE;
	f.call_id = id;
	f.payload.data = (uint8_t *)payload;
	f.payload.len = len;
	return conn_queue_frame(c, &f, NULL);
}

int nap_conn_window(nap_conn *c, uint64_t id, uint32_t credit)
{
	/* WINDOW is a 1.2 kind: an older peer would take it for a malformed
	 * frame and close the connection. Such a peer never streams, so it
	 * never needs credit. */
	if (!conn_peer_known(c) || conn_peer_minor(c) < 2)
		return -EPROTONOSUPPORT;
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__WINDOW;
	f.call_id = id;
	f.credit = credit;
	return conn_queue_frame(c, &f, NULL);
}

/* Messages quote what peers sent (names, other messages) and may be cut at
 * NAP_MESSAGE_MAX in the middle of a character: what goes out is UTF-8. */
static void vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
	vsnprintf(buf, n, fmt, ap);
	nap_utf8_repair(buf);
}

int nap_conn_end(nap_conn *c, uint64_t id, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conn_end_frame(c, id, status, msg, NULL, 0, NULL);
}

int nap_conn_abort(nap_conn *c, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->dead)
		return -ENOTCONN;
	int r = conn_end_frame(c, 0, status, msg, NULL, 0, NULL);
	conn_closing_flush(c);
	conn_fail(c, -ECONNABORTED, status, msg);
	return r;
}
