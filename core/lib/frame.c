/* The frame codec: length prefix + nap.bus.Frame. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <nap/env.h>
#include <nap/frame.h>

#include "arena.h"

#define FRAME_PAYLOAD_TAG 0x42 /* field 8, wire type 2 (length-delimited) */

static void why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
	if (!why || whylen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int nap_frame_take(Nap__Bus__Frame **framep, size_t *used, const uint8_t *buf, size_t len,
		   char *why, size_t whylen)
{
	return nap_frame_take_alloc(framep, used, buf, len, why, whylen, NULL);
}

/* The envelope as a view (nap_frame_take_view): what protobuf-c's unpack
 * would make of a frame that uses only Frame's own fields with their own
 * wire types (every frame nap itself sends), but with the payload left in
 * the input instead of copied: a relayed 64 KiB request message is then
 * copied once less in napd and in the plugin host. Anything else (an
 * unknown field, a wire type protobuf-c would refuse, an over-long varint,
 * a length past the end) returns 0, and the caller decodes the frame with
 * protobuf-c, which decides. tests/unit/test-frame.c compares the two. */
static bool view_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, bool *nonzero)
{
	uint64_t r = 0;
	bool any = false;
	for (unsigned i = 0; i < 10 && *p < end; i++) {
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		any |= (b & 0x7f) != 0;
		if (!(b & 0x80)) {
			*v = r;
			if (nonzero)
				*nonzero = any;
			return true;
		}
	}
	return false;
}

static char *view_string(const uint8_t *p, size_t n, ProtobufCAllocator *alloc)
{
	char *str = alloc->alloc(alloc->allocator_data, n + 1);
	if (str) {
		memcpy(str, p, n);
		str[n] = '\0';
	}
	return str;
}

static bool view_fields(Nap__Bus__Frame *f, const uint8_t *p, const uint8_t *end,
			ProtobufCAllocator *alloc);

/* Frees a view's pieces (what alloc allocated: not its payload). */
static void view_free(Nap__Bus__Frame *f, ProtobufCAllocator *alloc)
{
	f->payload = (ProtobufCBinaryData){0};
	protobuf_c_message_free_unpacked(&f->base, alloc);
}

/* Decodes body into *f (allocated from alloc, its payload pointing into
 * body): true, or false when protobuf-c must decide (then *f is NULL and
 * what was allocated is freed). */
static bool view_decode(Nap__Bus__Frame **framep, const uint8_t *body, size_t n,
			ProtobufCAllocator *alloc)
{
	*framep = NULL;
	Nap__Bus__Frame *f = alloc->alloc(alloc->allocator_data, sizeof(*f));
	if (!f)
		return false;
	*f = (Nap__Bus__Frame)NAP__BUS__FRAME__INIT;
	if (view_fields(f, body, body + n, alloc)) {
		*framep = f;
		return true;
	}
	view_free(f, alloc);
	return false;
}

/* The fields of body into f: true, or false when protobuf-c must decide. */
static bool view_fields(Nap__Bus__Frame *f, const uint8_t *p, const uint8_t *end,
			ProtobufCAllocator *alloc)
{
	/* The wire type each field of Frame has: 0 varint, 2 length-delimited. */
	static const int8_t wire[11] = {-1, 0, 0, 2, 0, 0, 0, 2, 2, 0, 0};
	while (p < end) {
		uint8_t key = *p++;
		unsigned num = key >> 3;
		if ((key & 0x80) || num > 10 || wire[num] != (key & 7))
			return false;
		uint64_t v;
		bool nonzero;
		if (!view_varint(&p, end, &v, &nonzero))
			return false;
		if (wire[num] == 2 && v > (uint64_t)(end - p))
			return false;
		switch (num) {
		case 1:
			f->call_id = v;
			break;
		case 2:
			f->kind = (Nap__Bus__Kind)(int32_t)(uint32_t)v;
			break;
		case 4:
			f->method = (uint32_t)v;
			break;
		case 5:
			f->timeout_ms = (uint32_t)v;
			break;
		case 6:
			f->status = (Nap__Bus__Status)(int32_t)(uint32_t)v;
			break;
		case 9:
			f->credit = (uint32_t)v;
			break;
		case 10:
			f->from_caller = nonzero;
			break;
		case 3:
		case 7: {
			/* The last one stands, as in protobuf. */
			char **dst = num == 3 ? &f->service : &f->message;
			char *str = view_string(p, (size_t)v, alloc);
			if (!str)
				return false;
			if (*dst != protobuf_c_empty_string)
				alloc->free(alloc->allocator_data, *dst);
			*dst = str;
			p += v;
			break;
		}
		case 8:
			f->payload.data = (uint8_t *)p;
			f->payload.len = (size_t)v;
			p += v;
			break;
		}
	}
	return true;
}

int nap_frame_take_view(Nap__Bus__Frame **framep, bool *view, size_t *used, const uint8_t *buf,
			size_t len, char *why, size_t whylen, ProtobufCAllocator *alloc)
{
	if (len < NAP_FRAME_HEADER_SIZE)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
		     (uint32_t)buf[3];
	*view = false;
	if (n > NAP_FRAME_MAX || len - NAP_FRAME_HEADER_SIZE < n)
		return nap_frame_take_alloc(framep, used, buf, len, why, whylen, alloc);
	Nap__Bus__Frame *f = NULL;
	if (!view_decode(&f, buf + NAP_FRAME_HEADER_SIZE, n, alloc))
		return nap_frame_take_alloc(framep, used, buf, len, why, whylen, alloc);
	int r = nap_frame_check(f, why, whylen);
	if (r < 0) {
		view_free(f, alloc);
		return r;
	}
	*framep = f;
	*view = true;
	*used = NAP_FRAME_HEADER_SIZE + n;
	return 1;
}

int nap_frame_take_alloc(Nap__Bus__Frame **framep, size_t *used, const uint8_t *buf, size_t len,
			 char *why, size_t whylen, ProtobufCAllocator *alloc)
{
	if (len < NAP_FRAME_HEADER_SIZE)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
		     (uint32_t)buf[3];
	if (n > NAP_FRAME_MAX) {
		why_set(why, whylen, "frame of %u bytes is over the limit of %u", n, NAP_FRAME_MAX);
		return -EMSGSIZE;
	}
	if (len - NAP_FRAME_HEADER_SIZE < n)
		return 0;
	Nap__Bus__Frame *f = nap__bus__frame__unpack(alloc, n, buf + NAP_FRAME_HEADER_SIZE);
	if (!f) {
		why_set(why, whylen, "frame of %u bytes is not a nap.bus.Frame", n);
		return -EBADMSG;
	}
	int r = nap_frame_check(f, why, whylen);
	if (r < 0) {
		nap__bus__frame__free_unpacked(f, alloc);
		return r;
	}
	*framep = f;
	*used = NAP_FRAME_HEADER_SIZE + n;
	return 1;
}

int nap_frame_check(const Nap__Bus__Frame *f, char *why, size_t whylen)
{
	if (f->status < 0 || f->status > NAP__BUS__STATUS__UNAUTHENTICATED) {
		why_set(why, whylen, "unknown status %d", (int)f->status);
		return -EBADMSG;
	}
	if (f->message && strlen(f->message) > NAP_MESSAGE_MAX) {
		why_set(why, whylen, "message longer than %u bytes", NAP_MESSAGE_MAX);
		return -EBADMSG;
	}
	/* protobuf-c does not check UTF-8; a conforming decoder refuses the
	 * frame, so nothing that is not UTF-8 gets in (or is echoed back). */
	if (f->message && !nap_utf8_valid(f->message)) {
		why_set(why, whylen, "message (field 7) is not UTF-8");
		return -EBADMSG;
	}
	switch (f->kind) {
	case NAP__BUS__KIND__HELLO:
		return 0;
	case NAP__BUS__KIND__END:
		/* A caller's half-close names its call; END 0 is the whole
		 * connection's and has no caller. */
		if (f->from_caller && f->call_id == 0) {
			why_set(why, whylen, "END with from_caller (field 10) without a call id");
			return -EBADMSG;
		}
		return 0;
	case NAP__BUS__KIND__CALL: {
		size_t sl = f->service ? strlen(f->service) : 0;
		if (sl == 0 || sl > NAP_NAME_MAX) {
			why_set(why, whylen, "CALL without a valid service name");
			return -EBADMSG;
		}
		if (!nap_utf8_valid(f->service)) {
			why_set(why, whylen, "service (field 3) is not UTF-8");
			return -EBADMSG;
		}
	}
		/* fall through */
	case NAP__BUS__KIND__MESSAGE:
	case NAP__BUS__KIND__CANCEL:
	case NAP__BUS__KIND__WINDOW:
		if (f->call_id == 0) {
			why_set(why, whylen, "frame of kind %d without a call id", (int)f->kind);
			return -EBADMSG;
		}
		return 0;
	default:
		why_set(why, whylen, "unknown frame kind %d", (int)f->kind);
		return -EBADMSG;
	}
}

void nap_frame_free(Nap__Bus__Frame *f)
{
	if (f)
		nap__bus__frame__free_unpacked(f, NULL);
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

/* The envelope is encoded here rather than by protobuf-c's reflection
 * (get_packed_size, then pack: two walks of the descriptor per frame, in
 * each pass of every round trip). The bytes are the ones protobuf-c writes:
 * fields in number order, proto3 defaults (0, "", empty bytes) left out,
 * enums as sign-extended varints. */
static size_t tag_varint_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static size_t tag_len_size(size_t len)
{
	return len ? 1 + varint_size(len) + len : 0;
}

static size_t envelope_size(const Nap__Bus__Frame *f, size_t *service_len, size_t *message_len)
{
	*service_len = f->service ? strlen(f->service) : 0;
	*message_len = f->message ? strlen(f->message) : 0;
	return tag_varint_size(f->call_id) + tag_varint_size((uint64_t)(int64_t)(int32_t)f->kind) +
	       tag_len_size(*service_len) + tag_varint_size(f->method) +
	       tag_varint_size(f->timeout_ms) +
	       tag_varint_size((uint64_t)(int64_t)(int32_t)f->status) + tag_len_size(*message_len) +
	       tag_len_size(f->payload.len) + tag_varint_size(f->credit) +
	       tag_varint_size(f->from_caller ? 1 : 0);
}

static uint8_t *put_varint_field(uint8_t *p, uint8_t tag, uint64_t v)
{
	if (v) {
		*p++ = tag;
		p += varint_put(p, v);
	}
	return p;
}

static uint8_t *put_len_field(uint8_t *p, uint8_t tag, const void *data, size_t len)
{
	if (len) {
		*p++ = tag;
		p += varint_put(p, len);
		memcpy(p, data, len);
		p += len;
	}
	return p;
}

size_t nap_frame_size(const Nap__Bus__Frame *f, const ProtobufCMessage *msg)
{
	size_t sl, ml;
	size_t n = envelope_size(f, &sl, &ml);
	if (msg) {
		size_t m = protobuf_c_message_get_packed_size(msg);
		/* An empty message is an empty payload, which proto3 leaves out. */
		if (m > 0)
			n += 1 + varint_size(m) + m;
	}
	return NAP_FRAME_HEADER_SIZE + n;
}

size_t nap_frame_pack(const Nap__Bus__Frame *f, const ProtobufCMessage *msg, uint8_t *out)
{
	uint8_t *p = out + NAP_FRAME_HEADER_SIZE;
	size_t sl = f->service ? strlen(f->service) : 0;
	size_t ml = f->message ? strlen(f->message) : 0;
	p = put_varint_field(p, 0x08, f->call_id);
	p = put_varint_field(p, 0x10, (uint64_t)(int64_t)(int32_t)f->kind);
	p = put_len_field(p, 0x1a, f->service, sl);
	p = put_varint_field(p, 0x20, f->method);
	p = put_varint_field(p, 0x28, f->timeout_ms);
	p = put_varint_field(p, 0x30, (uint64_t)(int64_t)(int32_t)f->status);
	p = put_len_field(p, 0x3a, f->message, ml);
	p = put_len_field(p, FRAME_PAYLOAD_TAG, f->payload.data, f->payload.len);
	p = put_varint_field(p, 0x48, f->credit);
	p = put_varint_field(p, 0x50, f->from_caller ? 1 : 0);
	if (msg) {
		/* Protobuf allows fields in any order: the payload goes last, packed
		 * in place, which saves packing it into a buffer of its own. */
		size_t m = protobuf_c_message_get_packed_size(msg);
		if (m > 0) {
			*p++ = FRAME_PAYLOAD_TAG;
			p += varint_put(p, m);
			p += protobuf_c_message_pack(msg, p);
		}
	}
	size_t body = (size_t)(p - out) - NAP_FRAME_HEADER_SIZE;
	out[0] = (uint8_t)(body >> 24);
	out[1] = (uint8_t)(body >> 16);
	out[2] = (uint8_t)(body >> 8);
	out[3] = (uint8_t)body;
	return (size_t)(p - out);
}

int nap_message_utf8_check(const ProtobufCMessage *m, char *why, size_t whylen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)m;
		size_t n = 1;
		const void *const *vals = (const void *const *)(base + fd->offset);
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + fd->quantifier_offset);
			vals = *(const void *const *const *)(base + fd->offset);
		} else if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
				continue;
		}
		for (size_t k = 0; k < n; k++) {
			const void *v = vals[k];
			if (!v)
				continue;
			if (fd->type == PROTOBUF_C_TYPE_STRING && !nap_utf8_valid(v)) {
				why_set(why, whylen, "%s.%s is not UTF-8", d->name, fd->name);
				return -EILSEQ;
			}
			if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
				int r = nap_message_utf8_check(v, why, whylen);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}
