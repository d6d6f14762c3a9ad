/* libnap: the nap bus. Frames over a Unix stream socket, calls with
 * deadlines and cancellation, usable from any event loop or blocking.
 *
 * Conventions (see also nap/status.h):
 *  - Functions return 0 (or a count) on success, a negative errno on failure.
 *  - Out-parameters come first and are written only on success.
 *  - nap_*_free() accepts NULL and returns NULL.
 *  - Nothing here aborts on out-of-memory; it returns -ENOMEM.
 *  - A nap_conn is not thread-safe: use it from one thread at a time.
 *
 * Event-loop use: poll nap_conn_get_fd() for nap_conn_get_events(), wake at
 * nap_conn_get_timeout() at the latest, and call nap_conn_process() whenever
 * either happens. Blocking use: nap_call_unary(), or nap_call_start() followed
 * by nap_conn_wait() until the call's callback saw its end.
 *
 * Client-streaming and bidirectional calls (protocol 1.2): start the call
 * with its first request as usual, then nap_call_send() each further request
 * message within the credit the callee grants (nap_call_credit(); -EAGAIN
 * when it is used up: wait with nap_conn_wait(), or nap_call_set_window() to
 * hear when more comes), and nap_call_close_send() when there are no more.
 * The callback gets the response message(s) and the end as for any call.
 * nap_call_send_wait() does the waiting for a blocking client. */
#ifndef NAP_BUS_H
#define NAP_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <nap/protocol.h>
#include <nap/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nap_conn nap_conn;
typedef struct nap_call nap_call;
struct Nap__Bus__Frame;
struct Nap__Bus__Hello;

/* What a call's callback receives. On a MESSAGE, end is false and status is
 * NAP_OK. On the end of the call, end is true, status is its status and
 * message its reason ("" on success); a unary reply's payload comes with the
 * end. payload/message are valid only during the callback. */
typedef struct nap_reply {
	bool end;
	int status;
	const char *message;
	const uint8_t *payload;
	size_t payload_len;
} nap_reply;

/* Called for each MESSAGE and once for the end of a call. After the end the
 * nap_call is freed: do not use it again. */
typedef void (*nap_call_fn)(nap_call *call, const nap_reply *reply, void *userdata);

/* Called for frames addressed to this side as a callee: CALL and CANCEL,
 * and since protocol 1.2 the caller's MESSAGE (one more request message)
 * and END (its half-close) of a client-streaming call, both with
 * frame->from_caller set: the owner tracks the calls it serves, enforces the
 * credit it granted (NAP_STREAM_WINDOW, then nap_conn_window()) and ends a
 * call that goes past it with NAP_RESOURCE_EXHAUSTED. A caller's MESSAGE or
 * END for a call the owner does not know is to be ignored (it ended).
 * The frame is owned by the connection and valid during the callback only. */
typedef void (*nap_incoming_fn)(nap_conn *conn, const struct Nap__Bus__Frame *frame,
				void *userdata);

/* Called once when the connection fails or is closed by the peer. err is a
 * negative errno: -ESHUTDOWN when the peer ended it with END call id 0 (its
 * status and message are passed on), -ECONNABORTED when this side did
 * (nap_conn_abort), -ENOBUFS when the peer stopped reading (NAP_OUTPUT_MAX),
 * -ECONNRESET at EOF; status/message say why, as a user should read it. */
typedef void (*nap_close_fn)(nap_conn *conn, int err, int status, const char *message,
			     void *userdata);

/* Connects to napd's socket at path (NULL: $NAP_SOCKET, else the default) and
 * sends a HELLO naming peer_name. Fails with -ENOENT / -ECONNREFUSED /
 * -EACCES as connect(2) does. */
int nap_conn_connect(nap_conn **connp, const char *path, const char *peer_name);

/* Wraps a connected stream socket (made non-blocking; the conn owns it).
 * With send_hello false no HELLO goes out (see nap_conn_send_hello()). */
int nap_conn_adopt(nap_conn **connp, int fd, const char *peer_name, bool send_hello);

/* Closes the socket. Calls still in flight end with NAP_UNAVAILABLE
 * ("connection closed") before this returns. */
nap_conn *nap_conn_free(nap_conn *conn);

void nap_conn_set_incoming(nap_conn *conn, nap_incoming_fn fn, void *userdata);
void nap_conn_set_close(nap_conn *conn, nap_close_fn fn, void *userdata);
void nap_conn_set_userdata(nap_conn *conn, void *userdata);
void *nap_conn_get_userdata(const nap_conn *conn);

int nap_conn_get_fd(const nap_conn *conn);
/* POLLIN, plus POLLOUT while output is queued. */
short nap_conn_get_events(const nap_conn *conn);
/* Earliest deadline of a call in flight, as CLOCK_MONOTONIC microseconds;
 * returns 0 and writes *usec, or -ENODATA when no call has a deadline. */
int nap_conn_get_timeout(const nap_conn *conn, uint64_t *usec);
/* Reads what is there, dispatches frames, expires deadlines, writes what is
 * queued. Returns 0, or a negative errno once the connection is dead (the
 * close callback has then run). */
int nap_conn_process(nap_conn *conn);
/* Writes queued output without blocking; 0, or a negative errno. */
int nap_conn_flush(nap_conn *conn);
/* Bytes queued for writing. After nap_conn_abort() (or the peer's not
 * reading) the connection is dead but its last frames, ending with the END
 * call id 0, may still be queued: an owner that can wait flushes them when
 * the socket is writable, until this is 0, then frees the connection. */
size_t nap_conn_pending(const nap_conn *conn);
/* Blocks up to timeout_ms (-1: forever) for something to do, then processes. */
int nap_conn_wait(nap_conn *conn, int timeout_ms);
/* Sends a HELLO of one's own making (protocol_major/minor must be set);
 * napd and plugin hosts use it to carry plugin information. */
int nap_conn_send_hello(nap_conn *conn, const struct Nap__Bus__Hello *hello);
/* True once the connection failed or was closed (the close callback ran). */
bool nap_conn_closed(const nap_conn *conn);
/* Memory held for a frame that has begun to arrive but is not whole yet
 * (0 if none), and in *since (may be NULL) the CLOCK_MONOTONIC usec when it
 * began. napd bounds both (NAP_INPUT_TOTAL_MAX, NAP_FRAME_TIMEOUT_MS). */
size_t nap_conn_unfinished(const nap_conn *conn, uint64_t *since);
/* True once a HELLO from the peer was accepted. */
bool nap_conn_peer_ready(const nap_conn *conn);
/* The peer's name and protocol from its HELLO ("" / 0 before it came). */
const char *nap_conn_peer_name(const nap_conn *conn);
/* The peer's HELLO as received (NULL before it came); owned by the conn. */
const struct Nap__Bus__Hello *nap_conn_peer_hello(const nap_conn *conn);
/* Waits up to timeout_ms (-1: no limit) for the peer's HELLO and checks
 * that it speaks protocol NAP_PROTOCOL_MAJOR.minor or later: a client that
 * needs 1.2 (client streaming) calls it before it starts anything, so that
 * an older napd gets no call at all. 0; -EPROTONOSUPPORT with *err (may be
 * NULL) set to NAP_FAILED_PRECONDITION and one line, "napd speaks protocol
 * 1.1; this needs 1.2: upgrade napd"; -ETIMEDOUT; -ENOTCONN (*err: the
 * peer's status and words when it ended the connection saying why, as napd
 * refusing a uid does; else NAP_UNAVAILABLE). */
int nap_conn_require(nap_conn *conn, uint32_t minor, int timeout_ms, nap_error *err);

/* Starts a call of method index `method` of `service` with a packed request.
 * timeout_ms 0 means no deadline. The callback runs from nap_conn_process()
 * (or nap_conn_free()), never from within this function. */
int nap_call_start_raw(nap_call **callp, nap_conn *conn, const char *service, uint32_t method,
		       const uint8_t *payload, size_t len, uint32_t timeout_ms, nap_call_fn fn,
		       void *userdata);
/* The same with a protobuf-c message as the request. */
int nap_call_start(nap_call **callp, nap_conn *conn, const char *service, uint32_t method,
		   const ProtobufCMessage *request, uint32_t timeout_ms, nap_call_fn fn,
		   void *userdata);
/* Gives up on a call: tells the peer, and the callback runs once more with
 * end = true and NAP_CANCELLED before this returns. */
int nap_call_cancel(nap_call *call);

/* The request stream of a client-streaming or bidirectional call (protocol
 * 1.2; docs/protocol.md section 5). The call is the one nap_call_start()
 * returned, until its callback saw the end: after that it is freed.
 *
 * nap_call_send() sends one more request message. Returns 0 once it is
 * queued; -EAGAIN when its size exceeds the credit left, or before the
 * peer's HELLO came (nothing was sent: wait with nap_conn_wait() and
 * retry); -EMSGSIZE for a message over NAP_STREAM_WINDOW (nap/limits.h:
 * send big data in chunks); -EPIPE after nap_call_close_send(); -ENOTCONN
 * once the connection is dead; -EPROTONOSUPPORT when the peer speaks an
 * older protocol than 1.2: the call is then ended here (its callback ran,
 * before this returns, with NAP_FAILED_PRECONDITION and one line such as
 * "napd speaks protocol 1.1; this needs 1.2 (a client-streaming call):
 * upgrade napd"), and the peer was told to cancel it. */
int nap_call_send(nap_call *call, const ProtobufCMessage *msg);
int nap_call_send_raw(nap_call *call, const uint8_t *payload, size_t len);
/* Bytes of request payload the callee accepts now: NAP_STREAM_WINDOW at the
 * start, less what was sent, plus what the callee granted since. 0 before
 * the peer's HELLO came, after the half-close, or with a peer older than
 * 1.2. */
size_t nap_call_credit(const nap_call *call);
/* Half-closes the call: no more request messages (the callee's handler
 * reads the end of its stream). The call goes on until the callee ends it.
 * 0; -EPIPE when already done; -EPROTONOSUPPORT as nap_call_send(). Before
 * the peer's HELLO came the half-close waits for it. */
int nap_call_close_send(nap_call *call);
/* For blocking clients: nap_call_send(), waiting with nap_conn_wait() for
 * credit (and for the peer's HELLO) as long as needed, up to timeout_ms
 * (-1: no limit besides the call's deadline), and flushing what it queued.
 * 0 once queued; -ETIMEDOUT; -EPIPE when the call ended while it waited
 * (its callback saw the end: read the status there); else as
 * nap_call_send(). */
int nap_call_send_wait(nap_call *call, const ProtobufCMessage *msg, int timeout_ms);
/* Called when the callee grants credit on a call this side streams on
 * (granted: the bytes of the WINDOW frame; 0 when the peer's HELLO came
 * and the first NAP_STREAM_WINDOW became usable). nap_call_credit() tells
 * the total. From nap_conn_process(); the callback may send. */
typedef void (*nap_window_fn)(nap_call *call, uint32_t granted, void *userdata);
void nap_call_set_window(nap_call *call, nap_window_fn fn);
uint64_t nap_call_get_id(const nap_call *call);
void *nap_call_get_userdata(const nap_call *call);

/* A blocking unary call: sends request, waits for the reply and unpacks it
 * with reply_desc into *replyp (free with protobuf_c_message_free_unpacked).
 * Returns 0 on NAP_OK; -EPROTO with *err filled in (status and message)
 * when the peer answered with a failure; -ECONNRESET or another negative
 * errno (with *err filled in too) when the connection failed. err may be
 * NULL. */
int nap_call_unary(ProtobufCMessage **replyp, nap_conn *conn, const char *service, uint32_t method,
		   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
		   uint32_t timeout_ms, nap_error *err);

/* Callee side: answering a CALL that arrived through nap_incoming_fn. */
/* Ends a unary call with NAP_OK and its reply (msg may be NULL: empty). */
int nap_conn_reply(nap_conn *conn, uint64_t call_id, const ProtobufCMessage *msg);
int nap_conn_reply_raw(nap_conn *conn, uint64_t call_id, const uint8_t *payload, size_t len);
/* Sends one message of a streaming reply. */
int nap_conn_send(nap_conn *conn, uint64_t call_id, const ProtobufCMessage *msg);
int nap_conn_send_raw(nap_conn *conn, uint64_t call_id, const uint8_t *payload, size_t len);
/* Grants the caller of a client-streaming call `credit` more bytes of
 * request payload (a WINDOW frame, protocol 1.2), as the messages it sent
 * are taken. -EPROTONOSUPPORT with a peer older than 1.2 (nothing is sent:
 * such a peer never streams). */
int nap_conn_window(nap_conn *conn, uint64_t call_id, uint32_t credit);
/* Ends a call with a status and a printf-style message. */
int nap_conn_end(nap_conn *conn, uint64_t call_id, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Ends the whole connection with a status and message (an END with call id
 * 0), flushes what it can and marks the conn dead. */
int nap_conn_abort(nap_conn *conn, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Looks up method index `method` of a service descriptor; NULL if out of
 * range. protobuf-c's own lookup asserts; this one validates. */
const ProtobufCMethodDescriptor *nap_method_get(const ProtobufCServiceDescriptor *service,
						uint32_t method);
/* Index of a method by name, or -1. */
int nap_method_index(const ProtobufCServiceDescriptor *service, const char *name);

/* Monotonic clock in microseconds. */
uint64_t nap_now_usec(void);

/* The socket path a client uses: path if not NULL, else $NAP_SOCKET, else
 * NAP_DEFAULT_SOCKET. */
const char *nap_socket_path(const char *path);

/* Connects a Unix stream socket (close-on-exec, blocking) to path as given
 * (no $NAP_SOCKET lookup); returns the fd, or -ENAMETOOLONG or connect(2)'s
 * negative errno. nap_conn_connect() and napc's dial-stdio bridge use it. */
int nap_socket_dial(const char *path);

#ifdef __cplusplus
}
#endif
#endif
