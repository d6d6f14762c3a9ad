/* Frame codec of the nap bus: the 4-byte big-endian length prefix and the
 * nap.bus.Frame envelope. Used by libnap's connections and by the fuzz
 * target; other languages do the same from docs/protocol.md. */
#ifndef NAP_FRAME_H
#define NAP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <nap/bus.pb-c.h>
#include <nap/protocol.h>
#include <nap/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Takes one frame from the front of buf.
 * Returns 1 with *framep (free with nap_frame_free) and *used (bytes taken),
 * 0 when buf does not yet hold a whole frame, or a negative errno when the
 * stream is broken: -EMSGSIZE (length over NAP_FRAME_MAX), -EBADMSG (not a
 * valid Frame). why (may be NULL) gets a reason for the log. */
int nap_frame_take(Nap__Bus__Frame **framep, size_t *used, const uint8_t *buf, size_t len,
		   char *why, size_t whylen);

/* Checks a decoded frame's fields against its kind (call id set, service
 * name present and within NAP_NAME_MAX for a CALL, known kind and status,
 * message within NAP_MESSAGE_MAX, service and message UTF-8). 0, or -EBADMSG
 * with a reason in why. */
int nap_frame_check(const Nap__Bus__Frame *f, char *why, size_t whylen);

/* Checks that every string in m (repeated ones and those of nested messages
 * too) is UTF-8, as protobuf requires and protobuf-c does not check. 0, or
 * -EILSEQ with the message and field named in why. */
int nap_message_utf8_check(const ProtobufCMessage *m, char *why, size_t whylen);

void nap_frame_free(Nap__Bus__Frame *f);

/* Size of the encoded frame (prefix included) with the payload taken from
 * msg if it is not NULL, else from f->payload. */
size_t nap_frame_size(const Nap__Bus__Frame *f, const ProtobufCMessage *msg);

/* Encodes a frame (prefix included) into out, which holds nap_frame_size()
 * bytes; returns the bytes written. When msg is not NULL it is packed as the
 * payload straight into out (f->payload must then be empty). */
size_t nap_frame_pack(const Nap__Bus__Frame *f, const ProtobufCMessage *msg, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
