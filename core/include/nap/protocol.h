/* nap wire protocol version, shared by napd, libnap, plugins and clients.
 *
 * Compatibility rule: peers with the same NAP_PROTOCOL_MAJOR interoperate.
 * A minor version only adds (fields, methods appended to a service, services);
 * it never renumbers or removes. The frame Kind and Status enums are closed
 * within a major version: an unknown value is a malformed frame, so a kind
 * added in a minor version (WINDOW, 1.2) and the frames whose meaning it
 * changes (a caller's MESSAGE and END) are sent only to a peer whose HELLO
 * announced that minor version or a later one. A peer receiving a HELLO with
 * another major version ends the connection with FAILED_PRECONDITION.
 *
 * History:
 *   1.0  (nap 0.1.0) HELLO/CALL/MESSAGE/END/CANCEL frames; services
 *        nap.Control, nap.Builder, nap.Scheduler, nap.Discovery,
 *        nap.Notifier, nap.Echo.
 *   1.1  (nap 0.2.0) nap.Apps (the orchestrator plugin serves the app
 *        methods; napd passes nap.Control's on to it); nap.Control.SetCheck;
 *        Check, InstanceStatus and AppStatus's instance states;
 *        nap.Scheduler.Watch and InstanceEvent; Instance's exit, health and
 *        announcer fields.
 *   1.2  (nap 0.2.0) client-streaming and bidirectional calls: after its
 *        CALL the caller sends more request messages as MESSAGE frames and a
 *        half-close as an END frame, both with Frame.from_caller set; the
 *        callee grants flow-control credit with the WINDOW frame kind
 *        (Frame.credit), beyond an implicit NAP_STREAM_WINDOW per call
 *        (nap/limits.h). Sent only to peers that announced 1.2; a 1.0/1.1
 *        peer never sees them, and libnap refuses to stream to one.
 *        nap.Echo.Sum and nap.Echo.Chat. Every published port of an
 *        instance is an endpoint (Endpoint.container_port, .extra_port,
 *        Instance.ports). nap.Control/nap.Apps Export and Import;
 *        nap.Builder.PruneImages; AppStatus.keep_releases, .image_bytes.
 *        The build context travels over the bus: nap.Builder.Upload
 *        (bidirectional), BuildRequest.context_id, DeployRequest.context_id;
 *        a request naming a directory (a 1.0/1.1 napc) is refused unless
 *        the builder allows it (allow_path_context). docs/protocol.md's
 *        version history says how older peers are treated.
 */
#ifndef NAP_PROTOCOL_H
#define NAP_PROTOCOL_H

#define NAP_PROTOCOL_MAJOR 1
#define NAP_PROTOCOL_MINOR 2

/* A frame is a 4-byte big-endian length, then that many bytes of one
 * nap.bus.Frame. The length counts the Frame only and may not exceed
 * NAP_FRAME_MAX; a larger length closes the connection. */
#define NAP_FRAME_HEADER_SIZE 4u
#define NAP_FRAME_MAX (4u * 1024u * 1024u)

/* Limits every part enforces on what it accepts (see docs/protocol.md). */
#define NAP_NAME_MAX 255u     /* service, plugin and peer names */
#define NAP_MESSAGE_MAX 4096u /* the human message of an END frame */

/* What napd grants one connection, and all of them together (docs/protocol.md
 * section 12). A peer that goes past one gets END call id 0 saying which. */
/* A frame whose first byte has arrived must be whole within this. */
#define NAP_FRAME_TIMEOUT_MS 10000u
/* Bytes napd holds for unfinished frames, all connections together; one
 * connection holds at most one frame (NAP_FRAME_MAX) of them. */
#define NAP_INPUT_TOTAL_MAX (64u * 1024u * 1024u)
/* Output queued for a peer that does not read it (every libnap side). */
#define NAP_OUTPUT_MAX (64u * 1024u * 1024u)
/* The deadline message, the same whoever notices first (section 6):
 * timeout in ms, service, method index. */
#define NAP_DEADLINE_MESSAGE "deadline of %u ms exceeded (%s method %u)"

/* Where napd listens unless told otherwise ($NAP_SOCKET overrides). */
#define NAP_DEFAULT_SOCKET "/run/nap/napd.sock"

#endif
