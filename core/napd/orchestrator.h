/* The deploy orchestrator: build -> schedule -> wait until announced ->
 * save -> retire the old release -> notify, streaming progress; and the
 * other app operations (scale, env, rollback, stop, start, destroy, ls,
 * status). It knows nothing of Docker or etcd: every step is a call to a
 * plugin service. One operation per app at a time. */
#ifndef NAPD_ORCHESTRATOR_H
#define NAPD_ORCHESTRATOR_H

#include <nap/bus.pb-c.h>

struct peer;

void orchestrator_init(unsigned deploy_timeout_s);
/* Handles nap.Control method `name` (Deploy, ListApps, GetApp, Scale,
 * SetEnv, Rollback, Stop, Start, Destroy); false if it is not one of them. */
bool orchestrator_call(struct peer *p, const char *name, const Nap__Bus__Frame *f);
/* The client went away: its operations go on without it. */
void orchestrator_peer_gone(struct peer *p);

#endif
