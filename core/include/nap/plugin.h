/* nap plugin SDK: what a plugin .so exports and what its host offers it.
 *
 * A plugin exports exactly one symbol, nap_plugin_entry (use NAP_PLUGIN_EXPORT).
 * napd runs each plugin in its own host process: the host dlopens the .so,
 * calls nap_plugin_entry() with its function table, checks the descriptor's
 * ABI, calls init(), and then routes the calls for the plugin's services to
 * the method handlers.
 *
 * ABI rule: NAP_PLUGIN_ABI changes when something here changes
 * incompatibly, and whenever any file of proto/ changes at all. Both structs
 * here start with their own size, so fields can be appended within an ABI: a
 * host reads only the fields a plugin's size covers, and a plugin checks
 * host->size before using a field newer than it knows (NAP_HOST_HAS()).
 * The generated protobuf-c structs cannot grow that way: a plugin allocates
 * them with the size its headers say, while their descriptors (and so the
 * size protobuf-c packs and unpacks) are libnap's. So a .proto change, even
 * a field added within a minor protocol version, bumps NAP_PLUGIN_ABI and
 * libnap's soname together, and napd refuses plugins built before it with
 * one line; tests/integration/test-abi.sh fails until both are bumped and
 * proto/abi.sums records the new .proto files.
 *
 * Threads: a handler runs on a thread of its own unless its method is marked
 * NAP_METHOD_INLINE, in which case it runs on the host's event loop and must
 * not block. Every host function may be called from any thread.
 *
 * Ownership: the request passed to a handler belongs to the host and is freed
 * once the call has ended; a handler must end every call exactly once
 * (reply, or end) and may stream messages before that. */
#ifndef NAP_PLUGIN_H
#define NAP_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <nap/protocol.h>
#include <nap/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* History: 1 = nap 0.1.0 (protocol 1.0, libnap.so.0); 2 = nap 0.2.0
 * (protocol 1.1: fields added to nap.Scheduler's and nap.Control's messages,
 * host->call_stream; libnap.so.1). Protocol 1.2 appended host->recv
 * within ABI 2 (nap 0.2.0 is not released yet; NAP_HOST_HAS tells). */
#define NAP_PLUGIN_ABI 2u

typedef struct nap_plugin_call nap_plugin_call;
typedef struct nap_host nap_host;

enum nap_log_level {
	NAP_LOG_ERROR = 3,
	NAP_LOG_WARNING = 4,
	NAP_LOG_NOTICE = 5,
	NAP_LOG_INFO = 6,
	NAP_LOG_DEBUG = 7,
};

/* The functions a host gives a plugin. */
struct nap_host {
	uint32_t size; /* sizeof(struct nap_host) as the host knows it */
	uint32_t abi;  /* NAP_PLUGIN_ABI of the host */

	/* Ends a unary call with NAP_OK and its reply (NULL: an empty reply). */
	int (*reply)(nap_plugin_call *call, const ProtobufCMessage *reply);
	/* Sends one message of a streaming reply. */
	int (*send)(nap_plugin_call *call, const ProtobufCMessage *msg);
	/* Ends a call with a status and a message for the user. */
	int (*end)(nap_plugin_call *call, int status, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* True once the caller cancelled the call or its deadline passed: stop
	 * work and end the call (any status; it is dropped). */
	bool (*cancelled)(const nap_plugin_call *call);
	/* Milliseconds left before the call's deadline; UINT32_MAX if none. */
	uint32_t (*remaining_ms)(const nap_plugin_call *call);
	/* Logs through napd with a level. */
	void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	/* A setting from the plugin's section of napd's configuration, or NULL. */
	const char *(*config)(const char *key);
	/* Blocking unary call to another service on the bus (never from an
	 * NAP_METHOD_INLINE handler). As nap_call_unary() in nap/bus.h. */
	int (*call)(ProtobufCMessage **replyp, const char *service, uint32_t method,
		    const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
		    uint32_t timeout_ms, nap_error *err);
	/* Since nap 0.2 (check with NAP_HOST_HAS(host, call_stream)): a
	 * blocking server-streaming call to another service. on_message runs on
	 * the calling thread with each message unpacked with msg_desc (freed
	 * when it returns), and with msg NULL at least every 250 ms while
	 * nothing comes; a non-zero return cancels the call. When parent is not
	 * NULL, the call is cancelled as soon as parent is (caller gone or past
	 * its deadline). Returns 0 once the stream ended with NAP_OK; -EPROTO
	 * with *err filled in when it ended with another status (NAP_CANCELLED
	 * after a cancel); another negative errno when it could not start. */
	int (*call_stream)(const char *service, uint32_t method, const ProtobufCMessage *request,
			   const ProtobufCMessageDescriptor *msg_desc, uint32_t timeout_ms,
			   const nap_plugin_call *parent,
			   int (*on_message)(const ProtobufCMessage *msg, void *ud), void *ud,
			   nap_error *err);
	/* Since protocol 1.2 (check with NAP_HOST_HAS(host, recv)): for
	 * client-streaming and bidirectional methods, the next request message
	 * after the first (which the handler got as its request). Blocks until
	 * one arrives; returns 1 with *msgp (unpacked with the method's input
	 * descriptor; free it with protobuf_c_message_free_unpacked), 0 once
	 * the caller closed its side (half-close; a caller older than 1.2
	 * never streams, so for it that is at once), -ECANCELED when the call
	 * was cancelled, its caller went away, or it passed its deadline
	 * (end the call: whatever status, it is dropped), -EBADMSG when the
	 * message did not decode (the host ended the call with
	 * INVALID_ARGUMENT), -EDEADLK from an NAP_METHOD_INLINE handler. The
	 * host grants the caller credit (WINDOW frames) as the handler takes
	 * messages, so that about NAP_STREAM_WINDOW (nap/limits.h) per call is
	 * queued in the plugin's process at most: a handler that takes its
	 * time slows the caller down instead. A handler may reply or end the
	 * call before it read the whole stream; the rest is dropped. */
	int (*recv)(nap_plugin_call *call, ProtobufCMessage **msgp);
};

#define NAP_HOST_HAS(host, field)                                                                  \
	((host)->size >= offsetof(struct nap_host, field) + sizeof((host)->field))

/* Handles one call. request is unpacked with the method's input descriptor. */
typedef void (*nap_method_fn)(nap_plugin_call *call, const ProtobufCMessage *request, void *state);

enum nap_method_flags {
	NAP_METHOD_INLINE = 1u << 0, /* runs on the event loop; must not block */
};

struct nap_plugin_method {
	const char *name; /* as in the .proto service block */
	nap_method_fn fn;
	uint32_t flags;
};

struct nap_plugin_service {
	const ProtobufCServiceDescriptor *descriptor;
	const struct nap_plugin_method *methods; /* terminated by { NULL } */
};

struct nap_plugin {
	uint32_t size; /* sizeof(struct nap_plugin) as the plugin knows it */
	uint32_t abi;  /* NAP_PLUGIN_ABI the plugin was built for */
	const char *name;
	const char *version;
	const char *description;
	const struct nap_plugin_service *services; /* terminated by { NULL } */
	/* Optional. Returns 0, or a negative errno with a message logged:
	 * -EINVAL means "my settings are wrong" and napd does not restart the
	 * plugin; any other error is retried with backoff. The plugin's state
	 * pointer is passed to every handler. */
	int (*init)(const nap_host *host, void **statep);
	/* Optional. Called once when napd stops the plugin. */
	void (*shutdown)(void *state);
};

/* The one symbol a plugin exports. */
#define NAP_PLUGIN_ENTRY_SYMBOL "nap_plugin_entry"
typedef const struct nap_plugin *(*nap_plugin_entry_fn)(const nap_host *host);

#define NAP_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Defines the entry point returning the descriptor `desc`:
 *   NAP_PLUGIN_DEFINE(my_plugin)
 * The host table comes again with init(); keep it there. */
#define NAP_PLUGIN_DEFINE(desc)                                                                    \
	NAP_PLUGIN_EXPORT const struct nap_plugin *nap_plugin_entry(const nap_host *host_);        \
	NAP_PLUGIN_EXPORT const struct nap_plugin *nap_plugin_entry(const nap_host *host_)         \
	{                                                                                          \
		(void)host_;                                                                       \
		return &(desc);                                                                    \
	}

#ifdef __cplusplus
}
#endif
#endif
