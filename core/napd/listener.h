/* napd's listening socket: created with restrictive permissions, and every
 * connecting peer checked against the configuration (SO_PEERCRED). */
#ifndef NAPD_LISTENER_H
#define NAPD_LISTENER_H

#include "conffile.h"

/* Binds path; fails with one line in err if another napd answers there or
 * the socket cannot be made. */
int listener_open(const char *path, const struct napd_config *cfg, char *err, size_t errlen);
/* Closes the socket and removes its file. */
void listener_close(void);

#endif
