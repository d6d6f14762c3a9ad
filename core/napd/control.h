/* nap.Control: the service napd itself serves to clients. */
#ifndef NAPD_CONTROL_H
#define NAPD_CONTROL_H

#include <nap/bus.pb-c.h>

struct peer;

#define NAP_CONTROL_SERVICE "nap.Control"

void control_init(uint64_t started_usec);
/* A CALL to nap.Control from p. */
void control_call(struct peer *p, const Nap__Bus__Frame *f);
/* A CANCEL for a call napd serves itself. */
void control_cancel(struct peer *p, uint64_t call_id);
void control_peer_gone(struct peer *p);

#endif
