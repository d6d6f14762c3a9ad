/* The frame codec: round trips and every way a stream can be broken. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nap/echo.pb-c.h>
#include <nap/env.h>
#include <nap/frame.h>

#include "../../core/lib/arena.h"
#include "testing.h"

static size_t pack(uint8_t *out, const Nap__Bus__Frame *f, const ProtobufCMessage *msg)
{
	return nap_frame_pack(f, msg, out);
}

static void put_len(uint8_t *p, uint32_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

/* nap_frame_pack() encodes the envelope itself: its bytes must be those of
 * protobuf-c's nap__bus__frame__pack(), for any field values (defaults left
 * out, negative enums as 10-byte varints, NULL and empty strings alike). */
static int encodings_differ(void)
{
	static uint8_t a[8192], b[8192];
	static char text[2][300];
	static const uint64_t vals[] = {0, 1, 127, 128, 300, 0xffffffffu, UINT64_MAX};
	uint8_t payload[200] = {1, 2, 3};
	int bad = 0;
	srandom(13);
	for (int i = 0; i < 20000; i++) {
		Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
		f.call_id = vals[random() % 7];
		f.kind = (Nap__Bus__Kind)(int32_t)vals[random() % 7];
		f.method = (uint32_t)vals[random() % 7];
		f.timeout_ms = (uint32_t)vals[random() % 7];
		f.status = (Nap__Bus__Status)(int32_t)vals[random() % 7];
		f.credit = (uint32_t)vals[random() % 7];
		f.from_caller = random() % 2;
		for (int k = 0; k < 2; k++) {
			size_t len = (size_t)random() % 260;
			memset(text[k], 'a' + k, len);
			text[k][len] = '\0';
		}
		f.service = random() % 3 ? text[0] : NULL;
		f.message = random() % 3 ? text[1] : NULL;
		f.payload.data = payload;
		f.payload.len = (size_t)random() % 3 ? (size_t)random() % sizeof(payload) : 0;
		size_t n = nap_frame_pack(&f, NULL, a);
		size_t m = nap__bus__frame__pack(&f, b);
		bad += n != nap_frame_size(&f, NULL) || n != m + NAP_FRAME_HEADER_SIZE ||
		       memcmp(a + NAP_FRAME_HEADER_SIZE, b, m) != 0;
	}
	return bad;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* One input through both decoders: protobuf-c's (nap_frame_take) and the
 * view (nap_frame_take_view, what connections use). 1 when they agree:
 * the same result, and the same fields when both took a frame. *viewed
 * counts the frames the view decoded itself. */
static bool decoders_agree(const uint8_t *buf, size_t len, unsigned *viewed)
{
	Nap__Bus__Frame *a = NULL, *b = NULL;
	size_t ua = 0, ub = 0;
	bool view = false;
	nap_arena arena;
	nap_arena_init(&arena);
	int ra = nap_frame_take(&a, &ua, buf, len, NULL, 0);
	int rb = nap_frame_take_view(&b, &view, &ub, buf, len, NULL, 0, &arena.alloc);
	bool same = ra == rb;
	if (same && ra == 1) {
		same = ua == ub && a->call_id == b->call_id && a->kind == b->kind &&
		       str_eq(a->service, b->service) && a->method == b->method &&
		       a->timeout_ms == b->timeout_ms && a->status == b->status &&
		       str_eq(a->message, b->message) && a->credit == b->credit &&
		       a->from_caller == b->from_caller && a->payload.len == b->payload.len &&
		       (a->payload.len == 0 ||
			memcmp(a->payload.data, b->payload.data, a->payload.len) == 0);
		*viewed += view;
	}
	nap_frame_free(a);
	if (rb == 1) {
		if (view)
			b->payload = (ProtobufCBinaryData){0};
		nap_arena_reset(&arena, &b->base);
	}
	return same;
}

/* The view decoder against protobuf-c's: frames as nap sends them, the same
 * cut short, with a byte changed, with bytes added, and random bytes. */
static int decoders_differ(unsigned *viewed)
{
	static uint8_t buf[8192];
	static char text[2][300];
	static const uint64_t vals[] = {0, 1, 127, 128, 300, 0xffffffffu, UINT64_MAX};
	uint8_t payload[200] = {1, 2, 3};
	int bad = 0;
	srandom(17);
	for (int i = 0; i < 200000; i++) {
		Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
		f.call_id = vals[random() % 7];
		f.kind = (Nap__Bus__Kind)(random() % 8);
		f.method = (uint32_t)vals[random() % 7];
		f.timeout_ms = (uint32_t)vals[random() % 7];
		f.status = (Nap__Bus__Status)(random() % 18);
		f.credit = (uint32_t)vals[random() % 7];
		f.from_caller = random() % 2;
		for (int k = 0; k < 2; k++) {
			size_t n = (size_t)random() % 40;
			for (size_t j = 0; j < n; j++)
				text[k][j] = (char)(random() % 5 ? 'a' + random() % 26 : random());
			text[k][n] = '\0';
		}
		f.service = random() % 3 ? text[0] : NULL;
		f.message = random() % 3 ? text[1] : NULL;
		f.payload.data = payload;
		f.payload.len = (size_t)random() % sizeof(payload);
		size_t n = nap_frame_pack(&f, NULL, buf);
		switch (random() % 5) {
		case 0: /* as sent */
			break;
		case 1: /* a byte changed, the length prefix kept */
			buf[4 + (size_t)random() % (n - 4 > 0 ? n - 4 : 1)] = (uint8_t)random();
			break;
		case 2: { /* a field appended: any key, a varint or some bytes */
			size_t extra = 1 + (size_t)random() % 12;
			for (size_t j = 0; j < extra; j++)
				buf[n + j] = (uint8_t)random();
			n += extra;
			put_len(buf, (uint32_t)(n - 4));
			break;
		}
		case 3: /* cut short, the length prefix saying so */
			n = 4 + (size_t)random() % (n - 3);
			put_len(buf, (uint32_t)(n - 4));
			break;
		default: /* random bytes */
			n = 4 + (size_t)random() % 64;
			for (size_t j = 4; j < n; j++)
				buf[j] = (uint8_t)random();
			put_len(buf, (uint32_t)(n - 4));
			break;
		}
		bad += !decoders_agree(buf, n, viewed);
	}
	return bad;
}

int main(void)
{
	uint8_t buf[1024];
	char why[200];
	Nap__Bus__Frame *got = NULL;
	size_t used = 0;

	/* A CALL with an in-place packed payload comes back field for field. */
	Nap__EchoMessage em = NAP__ECHO_MESSAGE__INIT;
	em.payload.data = (uint8_t *)"hello";
	em.payload.len = 5;
	Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
	f.kind = NAP__BUS__KIND__CALL;
	f.call_id = 77;
	f.service = (char *)"nap.Echo";
	f.method = 1;
	f.timeout_ms = 250;
	size_t n = pack(buf, &f, &em.base);
	CHECK(n == nap_frame_size(&f, &em.base),
	      "nap_frame_size matches what nap_frame_pack wrote");
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == 1 && used == n,
	      "a whole frame is taken");
	CHECK(got && got->call_id == 77 && got->kind == NAP__BUS__KIND__CALL &&
		      strcmp(got->service, "nap.Echo") == 0 && got->method == 1 &&
		      got->timeout_ms == 250,
	      "its fields survive");
	Nap__EchoMessage *back = got ? nap__echo_message__unpack(NULL, got->payload.len,
								 got->payload.data)
				     : NULL;
	CHECK(back && back->payload.len == 5 && memcmp(back->payload.data, "hello", 5) == 0,
	      "the payload packed in place decodes as the message");
	if (back)
		nap__echo_message__free_unpacked(back, NULL);
	nap_frame_free(got);
	got = NULL;

	/* Truncated: every prefix of a frame asks for more, none is an error. */
	int more = 0;
	for (size_t k = 0; k < n; k++)
		more += nap_frame_take(&got, &used, buf, k, why, sizeof(why)) == 0;
	CHECK(more == (int)n, "each of the %zu truncated prefixes asks for more bytes", n);

	/* Two frames back to back: the first is taken, the second stays. */
	memcpy(buf + n, buf, n);
	CHECK(nap_frame_take(&got, &used, buf, 2 * n, why, sizeof(why)) == 1 && used == n,
	      "back-to-back frames are taken one at a time");
	nap_frame_free(got);
	got = NULL;

	/* Over the limit: refused from the length alone, before any body. */
	put_len(buf, NAP_FRAME_MAX + 1);
	CHECK(nap_frame_take(&got, &used, buf, 4, why, sizeof(why)) == -EMSGSIZE,
	      "a length over NAP_FRAME_MAX is refused (%s)", why);
	put_len(buf, 0xffffffffu);
	CHECK(nap_frame_take(&got, &used, buf, 4, why, sizeof(why)) == -EMSGSIZE,
	      "a length of 4 GiB is refused");

	/* Garbage: bytes that are not a Frame. */
	put_len(buf, 6);
	memcpy(buf + 4, "\xff\xff\xff\xff\xff\xff", 6);
	CHECK(nap_frame_take(&got, &used, buf, 10, why, sizeof(why)) == -EBADMSG,
	      "garbage bytes are refused (%s)", why);

	/* Well-formed protobuf, wrong meaning. */
	Nap__Bus__Frame bad = NAP__BUS__FRAME__INIT;
	bad.kind = NAP__BUS__KIND__CALL;
	bad.call_id = 1;
	n = pack(buf, &bad, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG,
	      "a CALL without a service is refused (%s)", why);
	bad.service = (char *)"nap.Echo";
	bad.call_id = 0;
	n = pack(buf, &bad, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG,
	      "a CALL without a call id is refused (%s)", why);
	bad.call_id = 3;
	bad.kind = (Nap__Bus__Kind)42;
	n = pack(buf, &bad, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG,
	      "an unknown frame kind is refused (%s)", why);
	bad.kind = NAP__BUS__KIND__END;
	bad.status = (Nap__Bus__Status)99;
	n = pack(buf, &bad, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG,
	      "an unknown status is refused (%s)", why);
	char longname[NAP_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	bad.kind = NAP__BUS__KIND__CALL;
	bad.status = 0;
	bad.service = longname;
	n = pack(buf, &bad, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG,
	      "a service name over NAP_NAME_MAX is refused (%s)", why);

	/* Protocol 1.2: WINDOW names a call; a caller's END (half-close) too. */
	Nap__Bus__Frame w = NAP__BUS__FRAME__INIT;
	w.kind = NAP__BUS__KIND__WINDOW;
	w.credit = 65536;
	n = pack(buf, &w, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG &&
		      strstr(why, "without a call id"),
	      "a WINDOW without a call id is refused (%s)", why);
	w.call_id = 7;
	n = pack(buf, &w, NULL);
	got = NULL;
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == 1 && got &&
		      got->kind == NAP__BUS__KIND__WINDOW && got->call_id == 7 &&
		      got->credit == 65536,
	      "a WINDOW carries its call id and credit (field 9)");
	nap_frame_free(got);
	Nap__Bus__Frame hc = NAP__BUS__FRAME__INIT;
	hc.kind = NAP__BUS__KIND__END;
	hc.from_caller = true;
	n = pack(buf, &hc, NULL);
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == -EBADMSG,
	      "a caller's END (from_caller) without a call id is refused (%s)", why);
	hc.call_id = 9;
	n = pack(buf, &hc, NULL);
	got = NULL;
	CHECK(nap_frame_take(&got, &used, buf, n, why, sizeof(why)) == 1 && got &&
		      got->from_caller && got->call_id == 9,
	      "a caller's END (half-close) comes back with from_caller (field 10)");
	nap_frame_free(got);

	/* An empty frame (length 0) has no kind. */
	put_len(buf, 0);
	CHECK(nap_frame_take(&got, &used, buf, 4, why, sizeof(why)) == -EBADMSG,
	      "an empty frame is refused");

	/* Strings are UTF-8 (docs/protocol.md sections 2 and 4). */
	Nap__Bus__Frame u = NAP__BUS__FRAME__INIT;
	u.kind = NAP__BUS__KIND__CALL;
	u.call_id = 1;
	u.service = (char *)"nap.\xff\xfe";
	CHECK(nap_frame_check(&u, why, sizeof(why)) == -EBADMSG && strstr(why, "not UTF-8") &&
		      nap_utf8_valid(why),
	      "a CALL whose service is not UTF-8 is malformed (%s)", why);
	u.kind = NAP__BUS__KIND__CANCEL;
	CHECK(nap_frame_check(&u, why, sizeof(why)) == 0,
	      "a CANCEL's service is unused, so ignored whatever it holds");
	u.message = (char *)"caf\xc3";
	CHECK(nap_frame_check(&u, why, sizeof(why)) == -EBADMSG,
	      "a message that is not UTF-8 (a character cut short) is malformed in any kind");
	char fix[] = "ok \xc3\xa9 \xe2\x82 \xed\xa0\x80 \xc0\xaf end";
	size_t fixed = nap_utf8_repair(fix);
	CHECK(nap_utf8_valid(fix) && fixed == 7 && strncmp(fix, "ok \xc3\xa9 ", 6) == 0,
	      "nap_utf8_repair keeps UTF-8 and replaces the rest byte by byte (%zu: %s)", fixed,
	      fix);
	Nap__Bus__Hello hb = NAP__BUS__HELLO__INIT;
	char *svcs[] = {(char *)"nap.Echo", (char *)"nap.\x80"};
	hb.services = svcs;
	hb.n_services = 2;
	CHECK(nap_message_utf8_check(&hb.base, why, sizeof(why)) == -EILSEQ &&
		      strcmp(why, "nap.bus.Hello.services is not UTF-8") == 0,
	      "nap_message_utf8_check finds a repeated string that is not UTF-8 (%s)", why);
	hb.n_services = 1;
	Nap__EchoMessage em2 = NAP__ECHO_MESSAGE__INIT;
	CHECK(nap_message_utf8_check(&hb.base, why, sizeof(why)) == 0 &&
		      nap_message_utf8_check(&em2.base, why, sizeof(why)) == 0,
	      "... and passes messages whose strings are UTF-8 (bytes are not checked)");

	unsigned viewed = 0;
	int disagree = decoders_differ(&viewed);
	CHECK(disagree == 0 && viewed > 10000,
	      "the view decoder takes what protobuf-c takes, field for field, for 200000 frames "
	      "as sent, changed, extended, cut short and random (%d disagree; %u decoded "
	      "without protobuf-c)",
	      disagree, viewed);

	int differ = encodings_differ();
	CHECK(differ == 0,
	      "nap_frame_pack writes protobuf-c's bytes for 20000 random envelopes (%d "
	      "differ)",
	      differ);

	/* Status names. */
	CHECK(strcmp(nap_status_name(NAP_UNAVAILABLE), "UNAVAILABLE") == 0 &&
		      strcmp(nap_status_name(99), "UNKNOWN") == 0 &&
		      nap_status_from_name("deadline_exceeded") == NAP_DEADLINE_EXCEEDED,
	      "status names map both ways");

	/* The one errno -> status mapping of the plugins (nap/status.h). */
	static const struct {
		int err, status;
	} by_errno[] = {
		{0, NAP_OK},
		{-ECONNREFUSED, NAP_UNAVAILABLE},
		{-ECONNRESET, NAP_UNAVAILABLE},
		{-ETIMEDOUT, NAP_UNAVAILABLE},
		{-EAGAIN, NAP_UNAVAILABLE},
		{-EIO, NAP_UNAVAILABLE},
		{-ECANCELED, NAP_CANCELLED},
		{-EINVAL, NAP_INVALID_ARGUMENT},
		{-ENOENT, NAP_NOT_FOUND},
		{ENOENT, NAP_NOT_FOUND},
		{-EEXIST, NAP_ALREADY_EXISTS},
		{-EACCES, NAP_PERMISSION_DENIED},
		{-EPERM, NAP_PERMISSION_DENIED},
		{-ENOMEM, NAP_RESOURCE_EXHAUSTED},
		{-EPROTO, NAP_INTERNAL},
		{-ENAMETOOLONG, NAP_INTERNAL},
	};
	for (size_t i = 0; i < sizeof by_errno / sizeof by_errno[0]; i++)
		CHECK(nap_status_from_errno(by_errno[i].err) == by_errno[i].status,
		      "errno %d is %s", by_errno[i].err, nap_status_name(by_errno[i].status));
	return DONE();
}
