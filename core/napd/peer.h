/* A peer is one connection to napd: a client (napc, libnap users) that came
 * through the listening socket, or a plugin host napd started. Both speak
 * the same frames; napd routes CALLs between them. */
#ifndef NAPD_PEER_H
#define NAPD_PEER_H

#include <stdbool.h>
#include <sys/types.h>

#include <nap/bus.h>

#include "../lib/idmap.h"
#include "loop.h"

struct plugin;

struct peer {
	nap_conn *conn;
	struct loop_io io;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct plugin *plugin; /* set for plugin hosts */
	nap_idmap forwarded;   /* this peer's call id -> struct forward */
	nap_idmap served;      /* this peer's call id -> napd-served call state */
	bool dead;
	uint64_t dead_at;  /* when it died: a closing peer's flush ends then + timeout */
	size_t held;       /* memory of an unfinished frame, as last counted */
	char name[64];     /* for the log: "client pid 123 uid 0" or "plugin builder" */
	struct peer *next; /* in the list of all peers */
};

/* Wraps a connected socket; napd sends its HELLO. On error the fd is closed. */
int peer_new(struct peer **pp, int fd, const char *name, struct plugin *plugin);
/* Marks a peer dead: fails what it has in flight, unregisters it; the memory
 * goes after the current round of events. */
void peer_kill(struct peer *p, const char *why);
/* Flushes every peer's output and frees dead ones; the loop's idle hook. */
void peers_idle(void);
/* Earliest deadline of any call napd made (0 if none). */
uint64_t peers_next_deadline(void);
/* Closes every client connection, telling it why (shutdown). */
void peers_close_all(void);
size_t peers_count(void);

#endif
