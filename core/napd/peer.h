/* A peer is one connection to napd: a client (napc, libnap users) that came
 * through the listening socket, or a plugin host napd started. Both speak
 * the same frames; napd routes CALLs between them. */
#ifndef NAPD_PEER_H
#define NAPD_PEER_H

#include <stdbool.h>
#include <sys/types.h>

#include <nap/bus.h>
#include <nap/bus.pb-c.h>

#include "../lib/idmap.h"
#include "loop.h"

struct peer;

/* What the owner of a peer hears from it: the listener's clients and the
 * supervisor's plugin hosts differ only here. */
struct peer_ops {
	/* A CALL or CANCEL, after the peer's HELLO. */
	void (*incoming)(struct peer *p, const Nap__Bus__Frame *f);
	/* The peer's HELLO was read (f NULL, once), or it sent another HELLO
	 * (f); NULL: a second HELLO breaks the protocol and ends the peer. */
	void (*hello)(struct peer *p, const Nap__Bus__Frame *f);
	/* The connection ended (status and why as in nap_close_fn). */
	void (*gone)(struct peer *p, int status, const char *why);
};

struct peer {
	nap_conn *conn;
	struct loop_io io;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const struct peer_ops *ops;
	void *owner;     /* the plugin for a plugin host, NULL for a client */
	nap_idmap calls; /* this peer's call id -> struct inflight (router.h) */
	bool greeted;    /* ops->hello heard the first HELLO */
	bool dead;
	uint64_t dead_at;  /* when it died: a closing peer's flush ends then + timeout */
	size_t held;       /* memory of an unfinished frame, as last counted */
	char name[64];     /* for the log: "client pid 123 uid 0" or "plugin builder" */
	struct peer *next; /* in the list of all peers */
};

/* Wraps a connected socket; napd sends its HELLO. owner is NULL for a
 * client, which the connection limits apply to. On error the fd is closed. */
int peer_new(struct peer **pp, int fd, const char *name, const struct peer_ops *ops, void *owner);
/* Marks a peer dead: fails what it has in flight, unregisters it; the memory
 * goes after the current round of events. */
void peer_kill(struct peer *p, const char *why);
/* Flushes every peer's output and frees dead ones; the loop's idle hook. */
void peers_idle(void);
/* Earliest deadline of any call napd made (0 if none). */
uint64_t peers_next_deadline(void);
/* Closes every client connection, telling it why (shutdown). */
void peers_close_all(void);
/* Frees every peer at once, dead or not, without flushing (the last step of
 * shutdown, after the supervisor stopped the plugin hosts). */
void peers_finish(void);
size_t peers_count(void);

#endif
