/* scheduler-fleet: nap.Scheduler.Logs. fleet has no log API (fleetctl
 * journal runs journalctl over ssh on the unit's machine), so this says
 * where the logs are instead of pretending. Runs inline: it never blocks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "scheduler_fleet.h"

#include <nap/control.pb-c.h>
#include <nap/names.h>

void sf_logs(nap_plugin_call *call, const ProtobufCMessage *request, void *state)
{
	const struct sf_state *st = state;
	const Nap__LogsRequest *req = (const Nap__LogsRequest *)request;

	if (!nap_app_name_valid(req->app)) {
		st->host->end(call, NAP_INVALID_ARGUMENT, "scheduler-fleet: invalid app name: %s",
			      NAP_APP_NAME_RULE);
		return;
	}
	st->host->end(call, NAP_UNIMPLEMENTED,
		      "scheduler-fleet: fleet has no log API: on the instance's machine run "
		      "`journalctl -u 'nap-%s@*.service'` (or `fleetctl journal "
		      "nap-%s@RELEASE-INSTANCE.service`)",
		      req->app, req->app);
}
