/* libFuzzer target: the frame/envelope decoder and a connection's dispatch.
 *
 * The input is a byte stream as a peer would send it. It goes (1) through
 * nap_frame_take() frame by frame, each payload also tried as a Hello, and
 * (2) into a real nap_conn over a socket pair, whose incoming handler
 * answers every CALL and grants credit for every request message (1.2), so
 * that HELLO handling, call ids, ENDs for unknown calls, connection aborts
 * and request streams (a caller's MESSAGE and END, WINDOW, the stream of
 * this side's own call waiting for the peer's HELLO) all run on fuzzed
 * bytes. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/frame.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(nap_conn *c, const Nap__Bus__Frame *f, void *ud)
{
	(void)ud;
	if (f->kind == NAP__BUS__KIND__CALL && f->method == 0)
		nap_conn_reply_raw(c, f->call_id, f->payload.data, f->payload.len);
	else if (f->kind == NAP__BUS__KIND__MESSAGE && f->from_caller)
		nap_conn_window(c, f->call_id, (uint32_t)f->payload.len);
	else if (f->kind == NAP__BUS__KIND__END && f->from_caller)
		nap_conn_reply_raw(c, f->call_id, NULL, 0);
}

static void decode_all(const uint8_t *data, size_t size)
{
	while (size > 0) {
		Nap__Bus__Frame *f = NULL;
		size_t used = 0;
		char why[128];
		if (nap_frame_take(&f, &used, data, size, why, sizeof(why)) != 1)
			return;
		if (f->kind == NAP__BUS__KIND__HELLO) {
			Nap__Bus__Hello *h = nap__bus__hello__unpack(NULL, f->payload.len,
								     f->payload.data);
			if (h)
				nap__bus__hello__free_unpacked(h, NULL);
		}
		/* What was decoded encodes again to a frame that decodes. Unknown
		 * fields are left out: protobuf-c keeps even invalid ones (field
		 * number 0) and would write them back. */
		unsigned n_unknown = f->base.n_unknown_fields;
		f->base.n_unknown_fields = 0;
		uint8_t *again = malloc(nap_frame_size(f, NULL));
		if (again) {
			size_t n = nap_frame_pack(f, NULL, again);
			Nap__Bus__Frame *g = NULL;
			size_t used2;
			if (nap_frame_take(&g, &used2, again, n, NULL, 0) != 1 || used2 != n)
				__builtin_trap();
			nap_frame_free(g);
			free(again);
		}
		f->base.n_unknown_fields = n_unknown;
		nap_frame_free(f);
		data += used;
		size -= used;
	}
}

static void through_conn(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	nap_conn *c;
	if (nap_conn_adopt(&c, sv[1], "fuzz", true) < 0) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	nap_conn_set_incoming(c, answer, NULL);
	nap_call_start_raw(NULL, c, "nap.Echo", 0, NULL, 0, 0, NULL, NULL);
	/* A client-streaming call of this side's: its request and half-close
	 * wait for the peer's HELLO, which the input may or may not bring, as
	 * 1.2 or older. */
	nap_call *stream = NULL;
	if (nap_call_start_raw(&stream, c, "nap.Echo", 2, NULL, 0, 0, NULL, NULL) == 0 &&
	    nap_call_send_raw(stream, (const uint8_t *)"x", 1) == -EAGAIN)
		nap_call_close_send(stream);
	/* Feed in pieces that fit the socket buffer, processing as we go. */
	while (size > 0) {
		size_t n = size < 65536 ? size : 65536;
		ssize_t w = write(sv[0], data, n);
		if (w <= 0)
			break;
		data += w;
		size -= (size_t)w;
		if (nap_conn_process(c) < 0)
			break;
		char sink[65536];
		while (recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	close(sv[0]);
	nap_conn_process(c);
	nap_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_all(data, size);
	through_conn(data, size);
	return 0;
}
