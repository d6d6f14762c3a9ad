/* napd: who this napd is, "<hostname>:<socket path>". Several napds may
 * share one etcd and one Docker host (one per host in a cluster; the tests'
 * many on one machine): the id tells what each one owns. It is stable across
 * restarts on the same socket, so a restarted napd finds its own again. */
#ifndef NAPD_IDENTITY_H
#define NAPD_IDENTITY_H

/* Sets the id from the host's name and napd's socket path. */
void identity_init(const char *socket_path);
/* The id; "" before identity_init(). */
const char *identity(void);

#endif
