/* nap.Control: the service napd itself serves to clients, registered with
 * the router as the provider "napd". */
#ifndef NAPD_CONTROL_H
#define NAPD_CONTROL_H

#include <stdint.h>

#define NAP_CONTROL_SERVICE "nap.Control"

/* Checks the method table against the descriptor and registers nap.Control
 * with the router. started_usec is napd's start, for Ping's uptime. 0, or
 * -EINVAL when the table and nap.Control disagree (a build error), -ENOMEM. */
int control_init(uint64_t started_usec);
/* Unregisters nap.Control. */
void control_finish(void);

#endif
