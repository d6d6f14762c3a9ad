#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nap/builder.pb-c.h>
#include <nap/control.pb-c.h>
#include <nap/discovery.pb-c.h>
#include <nap/names.h>
#include <nap/notifier.pb-c.h>
#include <nap/scheduler.pb-c.h>

#include "apps.h"
#include "calls.h"
#include "identity.h"
#include "log.h"
#include "loop.h"
#include "orchestrator.h"
#include "router.h"
#include "supervisor.h"
#include "requests.h"
#include "peer.h"

#define RECORD_TIMEOUT_MS 10000u
#define SCHEDULE_TIMEOUT_MS 120000u
#define CLEANUP_TIMEOUT_MS 60000u

enum op_kind { OP_DEPLOY, OP_SETENV, OP_ROLLBACK, OP_SCALE, OP_STOP, OP_START, OP_DESTROY,
	       OP_LIST, OP_STATUS, OP_RECOVER };

static const char *const op_names[] = {"deploy", "env", "rollback", "scale", "stop",
				       "start",  "destroy", "ls", "status", "recover"};

struct op {
	enum op_kind kind;
	struct peer *client; /* NULL once the client is gone */
	uint64_t call_id;
	char app[64];
	char *dir;
	json_t *req_env;   /* object of K=V to set */
	json_t *req_unset; /* array of keys */
	uint32_t want_instances;
	uint64_t want_memory; /* deploy: 0 = keep the app's */
	uint32_t rollback_to;
	json_t *rec; /* the app record, loaded */
	/* the release being rolled out */
	uint32_t release;
	char *image;
	json_t *env;
	uint32_t *slots; /* instance numbers started by this op */
	size_t nslots;
	bool scheduled;     /* something may be running that a failure must remove */
	uint32_t old_release;
	const char *stage;
	uint64_t started_ms;
	Nap__EndpointList *endpoints; /* last seen */
	char failure[1024];
	int fail_status;
	bool answered;      /* the client has its answer; clean-up may go on */
	bool waiting;       /* queued behind another operation on the app */
	void (*step)(struct op *o); /* what a waiting operation starts with */
	/* Interrupted operations (see "in-progress markers" below). */
	bool marked;                  /* an in-progress marker of the app is stored */
	bool keep_marker;             /* a clean-up failed: leave the marker to settle later */
	struct loop_timer retry;      /* clean-up waiting for a restarting plugin */
	unsigned tries;
	json_t *pend;                 /* a marker left by an earlier napd, or NULL */
	void (*after)(struct op *o);  /* what follows a marker's put or delete */
	void (*resume)(struct op *o); /* what follows the recovery of a marker */
	struct op *next;
};

static struct op *ops;
static unsigned deploy_timeout_s = 300;

/* At start-up, once the Discovery and Scheduler plugins run, the markers
 * an earlier napd left are settled without waiting for a user. */
static struct loop_timer scan_timer;
static unsigned scan_rounds;

static void recover_scan(void *ud);
static bool pending_is_mine(json_t *m);
static bool pending_abandoned(json_t *m);

/* Markers name the napd that stored them (identity.h): several napds may
 * share one etcd, and each settles only what it left itself, and another's
 * marker only once it is older than any deploy can last (its napd is gone
 * for good). */
void orchestrator_init(unsigned timeout_s)
{
	deploy_timeout_s = timeout_s;
	scan_timer.fn = recover_scan;
	loop_timer_arm(&scan_timer, 200u * 1000u);
}


static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void load_record(struct op *o, void (*next)(struct op *o));
static void recover(struct op *o, void (*resume)(struct op *o));
static void deploy_build(struct op *o);

/* The release that serves: the record's, if the app is running. */
static uint32_t serving_release(json_t *rec)
{
	const char *state = json_string_value(json_object_get(rec, "state"));
	return state && strcmp(state, "running") == 0 ? app_u32(rec, "release") : 0;
}

static void op_fail(struct op *o, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Operations on one app run one at a time: when one ends, the oldest
 * waiting behind it starts. */
static void start_next_waiting(const char *app)
{
	struct op *oldest = NULL;
	for (struct op *o = ops; o; o = o->next) {
		if (strcmp(o->app, app) != 0 || o->kind == OP_STATUS || o->kind == OP_LIST)
			continue;
		if (!o->waiting)
			return; /* another one still runs */
		oldest = o;
	}
	if (oldest) {
		oldest->waiting = false;
		log_info("%s %s: starting after the one before it", op_names[oldest->kind],
			 oldest->app);
		load_record(oldest, oldest->step);
	}
}

static void op_free(struct op *o)
{
	for (struct op **pp = &ops; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	char app[sizeof(o->app)];
	bool was_running = !o->waiting && o->kind != OP_STATUS && o->kind != OP_LIST;
	snprintf(app, sizeof(app), "%s", o->app);
	free(o->dir);
	free(o->image);
	free(o->slots);
	json_decref(o->req_env);
	json_decref(o->req_unset);
	json_decref(o->rec);
	json_decref(o->env);
	json_decref(o->pend);
	loop_timer_disarm(&o->retry);
	if (o->endpoints)


		nap__endpoint_list__free_unpacked(o->endpoints, NULL);
	free(o);
	if (was_running && app[0])
		start_next_waiting(app);
}

void orchestrator_peer_gone(struct peer *p)
{
	/* Running operations go on without the client; queued ones are
	 * dropped: nobody waits for them any more. */
	for (;;) {
		struct op *drop = NULL;
		for (struct op *o = ops; o; o = o->next) {
			if (o->client != p)
				continue;
			o->client = NULL;
			if (o->waiting)
				drop = o;
		}
		if (!drop)
			break;
		log_info("%s %s: dropped, its client went away", op_names[drop->kind], drop->app);
		op_free(drop);
	}
}

/* Keeps a copy of an endpoint list that outlives the call's callback. */
static void keep_endpoints(struct op *o, const Nap__EndpointList *l)
{
	size_t n = nap__endpoint_list__get_packed_size(l);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return;
	nap__endpoint_list__pack(l, buf);
	if (o->endpoints)
		nap__endpoint_list__free_unpacked(o->endpoints, NULL);
	o->endpoints = nap__endpoint_list__unpack(NULL, n, buf);
	free(buf);
}

/* --- talking to the client --- */

static void progress(struct op *o, const char *stage, uint32_t step, uint32_t steps,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void progress(struct op *o, const char *stage, uint32_t step, uint32_t steps,
		     const char *fmt, ...)
{
	if (!o->client || o->kind == OP_LIST || o->kind == OP_STATUS)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (o->kind != OP_DEPLOY)
		return; /* the other operations answer once, at the end */
	Nap__DeployEvent ev = NAP__DEPLOY_EVENT__INIT;
	ev.stage = (char *)stage;
	ev.message = line;
	ev.step = step;
	ev.steps = steps;
	ev.release = o->release;
	nap_conn_send(o->client->conn, o->call_id, &ev.base);
}

static void op_end(struct op *o, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void op_end(struct op *o, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status != NAP_OK)
		log_notice("%s %s: %s", op_names[o->kind], o->app, msg);
	if (o->client)
		nap_conn_end(o->client->conn, o->call_id, status, "%s", msg);
	op_free(o);
}

/* The state `napc status` shows when an operation is under way or was
 * interrupted by a napd that stopped; false when there is nothing to add. */
static bool status_note(struct op *o, const char *state, char *buf, size_t n)
{
	json_t *m = o->pend ? o->pend : json_object_get(o->rec, "interrupted");
	const char *what = json_string_value(json_object_get(m, "op"));
	const char *stage = json_string_value(json_object_get(m, "stage"));
	if (!m)
		return false;
	if (!state)
		state = "new";
	bool running = false;
	for (struct op *p = ops; p && o->pend; p = p->next)
		running |= p != o && !p->waiting && p->kind != OP_STATUS &&
			   strcmp(p->app, o->app) == 0;
	if (o->pend && running)
		snprintf(buf, n, "%s (%s of release %u in progress)", state, what ? what : "deploy",
			 app_u32(m, "release"));
	else if (o->pend)
		snprintf(buf, n, "%s (the %s of release %u was interrupted at %s; being undone)",
			 state, what ? what : "deploy", app_u32(m, "release"), stage ? stage : "start");
	else
		snprintf(buf, n, "%s (the %s of release %u was interrupted at %s and undone)", state,
			 what ? what : "deploy", app_u32(m, "release"), stage ? stage : "start");
	return true;
}

/* Answers with the app's status (or, for a deploy, the final event); the

 * operation may go on cleaning up after that. */
static void op_answer(struct op *o)
{
	if (o->answered)
		return;
	o->answered = true;
	if (o->client && o->kind == OP_DEPLOY) {
		Nap__DeployEvent ev = NAP__DEPLOY_EVENT__INIT;
		ev.stage = (char *)"done";
		char line[256];
		snprintf(line, sizeof(line), "%s is up (release %u)", o->app, o->release);
		ev.message = line;
		ev.release = o->release;
		if (o->endpoints) {
			ev.n_endpoints = o->endpoints->n_endpoints;
			ev.endpoints = o->endpoints->endpoints;
		}
		nap_conn_send(o->client->conn, o->call_id, &ev.base);
		nap_conn_end(o->client->conn, o->call_id, NAP_OK, "%s", "");
	} else if (o->client && o->kind == OP_DESTROY) {
		Nap__DestroyReply rep = NAP__DESTROY_REPLY__INIT;
		rep.app = o->app;
		nap_conn_reply(o->client->conn, o->call_id, &rep.base);
	} else if (o->client) {
		Nap__AppStatus st;
		app_status_fill(&st, o->rec, o->kind == OP_SETENV || o->kind == OP_STATUS);
		char note[256];
		if (o->kind == OP_STATUS && status_note(o, st.state, note, sizeof(note)))
			st.state = note;
		if (o->endpoints) {
			st.n_endpoints = o->endpoints->n_endpoints;
			st.endpoints = o->endpoints->endpoints;
		}
		nap_conn_reply(o->client->conn, o->call_id, &st.base);
		st.n_endpoints = 0;
		st.endpoints = NULL;
		app_status_clear(&st);
	}
	o->client = NULL;
	log_info("%s %s: done", op_names[o->kind], o->app);
}

static void op_succeed(struct op *o)
{
	op_answer(o);
	op_free(o);
}

/* --- notification (never waited for, never fails an operation) --- */

static void notify_done(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)ud;
	(void)reply;
	if (status != NAP_OK && status != NAP_UNAVAILABLE)
		log_warning("notifier: %s", message);
}

static void notify(struct op *o, bool ok)
{
	Nap__Notification n = NAP__NOTIFICATION__INIT;
	n.app = o->app;
	n.release = o->release;
	n.outcome = (char *)(ok ? "succeeded" : "failed");
	n.event = (char *)op_names[o->kind];
	n.error = ok ? (char *)"" : o->failure;
	n.stage = ok ? (char *)"" : (char *)o->stage;
	n.started_unix_ms = o->started_ms;
	n.finished_unix_ms = wall_ms();
	if (ok && o->endpoints) {
		n.n_endpoints = o->endpoints->n_endpoints;
		n.endpoints = o->endpoints->endpoints;
	}
	call_unary("nap.Notifier", "Notify", &n.base, 5000, notify_done, NULL);
}

/* --- records --- */

static void save_record(struct op *o, call_done_fn next)
{
	char key[128];
	json_object_set_new(o->rec, "updated", json_integer((json_int_t)(wall_ms() / 1000)));
	char *text = json_dumps(o->rec, JSON_COMPACT);
	Nap__Record r = NAP__RECORD__INIT;
	r.key = (char *)app_key(key, sizeof(key), o->app);
	r.value.data = (uint8_t *)text;
	r.value.len = text ? strlen(text) : 0;
	call_unary("nap.Discovery", "PutRecord", &r.base, RECORD_TIMEOUT_MS, next, o);
	free(text);
}

typedef void (*op_step_fn)(struct op *o);

struct loaded {
	struct op *o;
	op_step_fn next;
};

static void record_loaded(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	struct loaded *l = ud;
	struct op *o = l->o;
	op_step_fn next = l->next;
	free(l);
	if (status != NAP_OK) {
		op_end(o, status, "cannot read the state of %s: %s", o->app, message);
		return;
	}
	const Nap__GetRecordsReply *rep = (const Nap__GetRecordsReply *)reply;
	char key[128], pkey[128];
	app_key(key, sizeof(key), o->app);
	app_pending_key(pkey, sizeof(pkey), o->app);
	for (size_t i = 0; i < rep->n_records; i++) {
		if (strcmp(rep->records[i]->key, pkey) == 0) {
			json_decref(o->pend);
			o->pend = json_loadb((const char *)rep->records[i]->value.data,
					     rep->records[i]->value.len, 0, NULL);
			if (!json_is_object(o->pend)) {
				json_decref(o->pend);
				o->pend = json_object(); /* damaged: still remove what it names */
			}
			continue;
		}
		if (strcmp(rep->records[i]->key, key) != 0)
			continue;
		o->rec = app_record_parse(rep->records[i]->value.data, rep->records[i]->value.len);
		if (!o->rec) {
			op_end(o, NAP_DATA_LOSS, "the record of %s in /nap/%s is damaged", o->app, key);
			return;
		}
	}
	/* Operations on an app run one at a time and each removes its marker
	 * before it ends: a marker seen here was left by a napd that stopped
	 * in the middle. Whatever changes the app first finishes or undoes it;
	 * a status only reports it. */
	if (o->pend && o->kind != OP_STATUS && !pending_is_mine(o->pend)) {
		if (!pending_abandoned(o->pend)) {
			op_end(o, NAP_FAILED_PRECONDITION,
			       "the %s of %s (release %u) by the napd at %s is in progress; try again "
			       "when it has ended",
			       json_string_value(json_object_get(o->pend, "op")) ?: "deploy", o->app,
			       app_u32(o->pend, "release"),
			       json_string_value(json_object_get(o->pend, "owner")));
			return;
		}
		log_notice("%s: settling the %s the napd at %s left unfinished", o->app,
			   json_string_value(json_object_get(o->pend, "op")) ?: "deploy",
			   json_string_value(json_object_get(o->pend, "owner")));
	}
	if (o->pend && o->kind != OP_STATUS)
		recover(o, next);
	else
		next(o);
}


/* True when marker m was stored by this napd (markers of napds before
 * owners were written count as ours). */
static bool pending_is_mine(json_t *m)
{
	const char *owner = json_string_value(json_object_get(m, "owner"));
	return !owner || strcmp(owner, identity()) == 0;
}

/* True when another napd's marker m is older than any operation can last:
 * a build and an announce each bounded by the deploy timeout, plus slack. */
static bool pending_abandoned(json_t *m)
{
	json_int_t started = json_integer_value(json_object_get(m, "started"));
	uint64_t limit_s = 2u * (uint64_t)deploy_timeout_s + 120u;
	return started <= 0 || wall_ms() / 1000u > (uint64_t)started + limit_s;
}

static void load_record(struct op *o, op_step_fn next)
{
	o->step = next;
	struct loaded *l = malloc(sizeof(*l));
	if (!l) {
		op_end(o, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
		return;
	}
	l->o = o;
	l->next = next;
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "apps/%s/", o->app);
	Nap__GetRecordsRequest req = NAP__GET_RECORDS_REQUEST__INIT;
	req.prefix = prefix;
	call_unary("nap.Discovery", "GetRecords", &req.base, RECORD_TIMEOUT_MS, record_loaded, l);
}

/* --- in-progress markers: nothing lost when napd stops mid-operation ---
 *
 * Before a deploy, env or rollback changes anything it stores a marker at
 * "apps/<app>/pending": {"op","release","old","stage","started"}; the
 * marker goes when the operation has ended, well or badly. A napd killed in
 * between leaves it, and the next napd (a scan at start-up, or the next
 * operation on the app) settles it through the plugins: if the record
 * already names the new release, the deploy had committed and only the old
 * release is left to retire; otherwise what the new release started is
 * removed and withdrawn, and the record notes the interruption for
 * `napc status` until the next release. */

static void marker_done(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		op_fail(o, status, "cannot store how far the %s got: %s", op_names[o->kind],
			message);
		return;
	}
	o->marked = true;
	o->after(o);
}

/* Stores (or updates, with the stage reached) the marker, then next(o). */
static void mark_pending(struct op *o, const char *stage, op_step_fn next)
{
	char key[128];
	json_t *m = json_pack("{s:s, s:I, s:I, s:s, s:I, s:s}", "op", op_names[o->kind],
			      "release", (json_int_t)o->release, "old", (json_int_t)o->old_release,
			      "stage", stage, "started", (json_int_t)(o->started_ms / 1000), "owner",
			      identity());
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	if (!text) {
		op_fail(o, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
		return;
	}
	o->after = next;
	Nap__Record r = NAP__RECORD__INIT;
	r.key = (char *)app_pending_key(key, sizeof(key), o->app);
	r.value.data = (uint8_t *)text;
	r.value.len = strlen(text);
	call_unary("nap.Discovery", "PutRecord", &r.base, RECORD_TIMEOUT_MS, marker_done, o);
	free(text);
}

static void marker_cleared(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	/* A marker left behind is harmless: settling it again finds nothing. */
	if (status != NAP_OK)
		log_warning("%s %s: in-progress marker not removed: %s", op_names[o->kind], o->app,
			    message);
	o->marked = false;
	o->after(o);
}

/* Removes the marker if one is stored, then next(o). */
static void clear_pending(struct op *o, op_step_fn next)
{
	if (!o->marked) {
		next(o);
		return;
	}
	char key[128];
	o->after = next;
	Nap__GetRecordsRequest d = NAP__GET_RECORDS_REQUEST__INIT;
	d.prefix = (char *)app_pending_key(key, sizeof(key), o->app);
	call_unary("nap.Discovery", "DeleteRecords", &d.base, RECORD_TIMEOUT_MS, marker_cleared, o);
}

static void recovered(struct op *o)
{
	json_decref(o->pend);
	o->pend = NULL;
	o->resume(o);
}

static void recover_failed(struct op *o, int status, const char *message)
{
	op_end(o, status == NAP_OK ? NAP_INTERNAL : status,
	       "cannot settle the interrupted %s of %s (release %u): %s; try again once the "
	       "plugins answer ('napc plugins')",
	       json_string_value(json_object_get(o->pend, "op")) ?: "deploy", o->app,
	       app_u32(o->pend, "release"), message);
}

/* The last step of settling (the record noted, or the old release
 * removed): the marker goes. */
static void recover_last_done(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		recover_failed(o, status, message);
		return;
	}
	clear_pending(o, recovered);
}

static void recover_new_withdrawn(void *ud, int status, const char *message,
				  ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		recover_failed(o, status, message);
		return;
	}
	if (!o->rec) {
		clear_pending(o, recovered); /* a first deploy: there is no app yet */
		return;
	}
	json_t *note = json_pack("{s:s, s:I, s:s}", "op",
				 json_string_value(json_object_get(o->pend, "op")) ?: "deploy",
				 "release", (json_int_t)app_u32(o->pend, "release"), "stage",
				 json_string_value(json_object_get(o->pend, "stage")) ?: "start");
	json_object_set_new(o->rec, "interrupted", note);
	save_record(o, recover_last_done);
}

static void recover_new_removed(void *ud, int status, const char *message,
				ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		recover_failed(o, status, message);
		return;
	}
	Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
	w.app = o->app;
	w.release = app_u32(o->pend, "release");
	call_unary("nap.Discovery", "Withdraw", &w.base, CLEANUP_TIMEOUT_MS, recover_new_withdrawn,
		   o);
}

static void recover_old_withdrawn(void *ud, int status, const char *message,
				  ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		recover_failed(o, status, message);
		return;
	}
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = o->app;
	r.release = app_u32(o->pend, "old");
	call_unary("nap.Scheduler", "Remove", &r.base, CLEANUP_TIMEOUT_MS, recover_last_done, o);
}

/* Settles o->pend (a marker an earlier napd left), then resume(o). */
static void recover(struct op *o, op_step_fn resume)
{
	uint32_t rel = app_u32(o->pend, "release"), old = app_u32(o->pend, "old");
	const char *what = json_string_value(json_object_get(o->pend, "op"));
	const char *stage = json_string_value(json_object_get(o->pend, "stage"));
	o->resume = resume;
	o->marked = true; /* the marker goes once it is settled */
	if (!rel) {
		clear_pending(o, recovered); /* damaged: nothing it names can be found */
		return;
	}
	if (o->rec && app_u32(o->rec, "release") == rel) {
		log_notice("%s: the %s of release %u had been saved when napd stopped; retiring "
			   "release %u",
			   o->app, what ? what : "deploy", rel, old);
		if (!old || old == rel) {
			clear_pending(o, recovered);
			return;
		}
		Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
		w.app = o->app;
		w.release = old;
		call_unary("nap.Discovery", "Withdraw", &w.base, CLEANUP_TIMEOUT_MS,
			   recover_old_withdrawn, o);
		return;
	}
	log_notice("%s: the %s of release %u was interrupted at %s when napd stopped; removing "
		   "what it started (release %u serves)",
		   o->app, what ? what : "deploy", rel, stage ? stage : "start",
		   o->rec ? app_u32(o->rec, "release") : 0);
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = o->app;
	r.release = rel;
	call_unary("nap.Scheduler", "Remove", &r.base, CLEANUP_TIMEOUT_MS, recover_new_removed, o);
}

/* --- failure: remove what this attempt started, then say why --- */


/* Tells the client why the operation failed, and what still serves. */
static void failed_final(struct op *o)
{
	op_end(o, o->fail_status, "%s", o->failure);
}

static void end_failed(struct op *o)
{
	notify(o, false);
	char msg[sizeof(o->failure)];
	uint32_t serving = o->rec ? app_u32(o->rec, "release") : 0;
	const char *state = o->rec ? json_string_value(json_object_get(o->rec, "state")) : NULL;
	if (serving && state && strcmp(state, "running") == 0 && o->kind != OP_SCALE)
		snprintf(msg, sizeof(msg), "%s of %s failed at %s: %s (release %u keeps serving)",
			 op_names[o->kind], o->app, o->stage, o->failure, serving);
	else
		snprintf(msg, sizeof(msg), "%s of %s failed at %s: %s", op_names[o->kind], o->app,
			 o->stage, o->failure);
	memcpy(o->failure, msg, sizeof(msg));
	/* The attempt is over and cleaned up: nothing is left to settle, unless
	 * the clean-up failed; then the marker stays for the next napd or
	 * operation on the app to settle. */
	if (o->keep_marker)
		o->marked = false;
	clear_pending(o, failed_final);

}

/* A plugin that crashed during the call that failed is back within a few
 * seconds (the supervisor restarts it): the clean-up waits for it rather
 * than leave containers or entries behind. */
#define CLEANUP_TRIES 40
#define CLEANUP_RETRY_US (500u * 1000u)

static bool cleanup_retry(struct op *o, int status, void (*again)(void *ud))
{
	if (status != NAP_UNAVAILABLE || o->tries >= CLEANUP_TRIES)
		return false;
	o->tries++;
	o->retry.fn = again;
	o->retry.ud = o;
	loop_timer_arm(&o->retry, CLEANUP_RETRY_US);
	return true;
}

static void cleanup_remove(void *ud);
static void cleanup_withdraw(void *ud);

static void failed_withdrawn(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK && cleanup_retry(o, status, cleanup_withdraw))
		return;
	if (status != NAP_OK) {
		log_warning("%s %s: could not withdraw release %u: %s", op_names[o->kind], o->app,
			    o->release, message);
		o->keep_marker = true;
	}
	end_failed(o);
}

static void failed_removed(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK && cleanup_retry(o, status, cleanup_remove))
		return;
	o->tries = 0;
	if (status != NAP_OK) {
		log_warning("%s %s: could not remove what release %u started: %s",
			    op_names[o->kind], o->app, o->release, message);
		o->keep_marker = true;
	}
	cleanup_withdraw(o);
}

static void cleanup_withdraw(void *ud)
{
	struct op *o = ud;
	Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
	w.app = o->app;
	w.release = o->release;
	w.n_instances = o->nslots;
	w.instances = o->slots;
	call_unary("nap.Discovery", "Withdraw", &w.base, CLEANUP_TIMEOUT_MS, failed_withdrawn, o);
}

static void op_fail(struct op *o, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void op_fail(struct op *o, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->failure, sizeof(o->failure), fmt, ap);
	va_end(ap);
	o->fail_status = status == NAP_OK ? NAP_INTERNAL : status;
	if (!o->scheduled) {
		end_failed(o);
		return;
	}
	progress(o, "cleanup", 0, 0, "removing what release %u started", o->release);
	cleanup_remove(o);
}

static void cleanup_remove(void *ud)
{
	struct op *o = ud;
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = o->app;
	r.release = o->release;
	r.n_instances = o->nslots;
	r.instances = o->slots;
	call_unary("nap.Scheduler", "Remove", &r.base, CLEANUP_TIMEOUT_MS, failed_removed, o);
}

/* --- rolling out a release: schedule, announce, save, retire --- */

static void retired(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK)
		log_warning("%s %s: release %u was not fully removed: %s", op_names[o->kind], o->app,
			    o->old_release, message);
	if (!o->answered)
		notify(o, true);
	clear_pending(o, op_succeed);
}


static void old_withdrawn(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK)
		log_warning("%s %s: entries of release %u not withdrawn: %s", op_names[o->kind],
			    o->app, o->old_release, message);
	/* The new release serves and the old one is out of discovery: the
	 * user has the answer now, while the old instances stop (the app stays
	 * locked until they have, so the next operation sees them gone). */
	notify(o, true);
	op_answer(o);
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = o->app;
	r.release = o->old_release;
	call_unary("nap.Scheduler", "Remove", &r.base, CLEANUP_TIMEOUT_MS, retired, o);
}

static void saved(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		o->stage = "save";
		op_fail(o, status, "cannot save the app's state: %s", message);
		return;
	}
	o->scheduled = false; /* from here on the new release is the app */
	if (!o->old_release || o->old_release == o->release) {
		retired(o, NAP_OK, "", NULL);
		return;
	}
	/* Only now, with the new release up and announced, the old one goes:
	 * a redeploy never leaves the app without instances. Its entries go
	 * first, so that clients stop picking it before it stops answering. */
	o->stage = "retire";
	progress(o, "retire", 0, 0, "stopping release %u", o->old_release);
	Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
	w.app = o->app;
	w.release = o->old_release;
	call_unary("nap.Discovery", "Withdraw", &w.base, CLEANUP_TIMEOUT_MS, old_withdrawn, o);
}

static void commit(struct op *o)
{
	o->stage = "save";
	json_t *rec = o->rec;
	json_object_del(rec, "interrupted"); /* a new release: the note is history */
	if (o->kind != OP_SCALE && o->kind != OP_START) {
		json_t *rel = json_pack("{s:i, s:s, s:O, s:I}", "release", (json_int_t)o->release,
					"image", o->image, "env", o->env, "created",
					(json_int_t)(wall_ms() / 1000));
		json_t *rels = json_object_get(rec, "releases");
		json_array_append_new(rels, rel);
		while (json_array_size(rels) > APP_RELEASES_KEPT)
			json_array_remove(rels, 0);
	}
	json_object_set_new(rec, "release", json_integer(o->release));
	json_object_set_new(rec, "state", json_string("running"));
	json_object_set_new(rec, "instances", json_integer(o->want_instances));
	if (o->kind != OP_SCALE) {
		json_t *slots = json_array();
		for (size_t i = 0; i < o->nslots; i++)
			json_array_append_new(slots, json_integer(o->slots[i]));
		json_object_set_new(rec, "slots", slots);
	}
	save_record(o, saved);
}

static void announced(void *ud, bool end, int status, const char *message, ProtobufCMessage *msg)
{
	struct op *o = ud;
	if (!end) {
		const Nap__EndpointList *l = (const Nap__EndpointList *)msg;
		size_t mine = 0;
		for (size_t i = 0; i < l->n_endpoints; i++)
			mine += l->endpoints[i]->release == o->release;
		progress(o, "announce", (uint32_t)mine, o->want_instances,
			 "%zu of %u instances announced", mine, o->want_instances);
		keep_endpoints(o, l); /* the newest list is the answer */
		return;
	}
	if (status != NAP_OK) {
		if (status == NAP_DEADLINE_EXCEEDED)
			op_fail(o, status,
				"the instances of release %u were not all announced within %u s; "
				"see 'napc logs %s'",
				o->release, deploy_timeout_s, o->app);
		else
			op_fail(o, status, "%s", message);
		return;
	}
	commit(o);
}

static void wait_announced(struct op *o)
{
	o->stage = "announce";
	Nap__ResolveRequest r = NAP__RESOLVE_REQUEST__INIT;
	r.app = o->app;
	r.release = o->release;
	r.min_instances = o->want_instances;
	call_stream(NULL, "nap.Discovery", "Watch", &r.base, deploy_timeout_s * 1000u, announced, o);
}

static void ran(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	struct op *o = ud;
	if (status != NAP_OK) {
		op_fail(o, status, "%s", message);
		return;
	}
	const Nap__RunReply *rep = (const Nap__RunReply *)reply;
	for (size_t i = 0; i < rep->n_instances; i++)
		progress(o, "schedule", (uint32_t)(i + 1), (uint32_t)rep->n_instances,
			 "instance %u started on %s", rep->instances[i]->instance,
			 rep->instances[i]->host);
	if (o->marked) { /* a restarted napd then says where this one stopped */
		o->stage = "announce";
		mark_pending(o, "announce", wait_announced);
	} else {
		wait_announced(o);
	}
}

static bool slot_taken(json_t *slots, uint32_t n)
{
	size_t i;
	json_t *v;
	json_array_foreach(slots, i, v) if ((uint32_t)json_integer_value(v) == n) return true;
	return false;
}

/* Runs `count` new instances of o->release on instance numbers no running
 * instance uses, so that the old and new releases' etcd keys never meet. */
static bool pick_slots(struct op *o, size_t count)
{
	json_t *used = json_object_get(o->rec, "slots");
	free(o->slots);
	o->nslots = 0;
	o->slots = calloc(count ? count : 1, sizeof(uint32_t));
	if (!o->slots)
		return false;
	for (uint32_t n = 1; o->nslots < count; n++)
		if (!slot_taken(used, n))
			o->slots[o->nslots++] = n;
	return true;
}

/* Starts o->slots. The last thing its caller does: the callback may run
 * (and end the operation) before this returns. */
static void run_slots(struct op *o)
{
	size_t count = o->nslots;
	o->stage = "schedule";
	progress(o, "schedule", 0, (uint32_t)count, "starting %zu instance%s of release %u", count,
		 count == 1 ? "" : "s", o->release);
	Nap__RunRequest r = NAP__RUN_REQUEST__INIT;
	r.app = o->app;
	r.release = o->release;
	r.image = o->image;
	r.n_instances = o->nslots;
	r.instances = o->slots;
	size_t nenv = json_object_size(o->env);
	Nap__EnvVar *vars = calloc(nenv ? nenv : 1, sizeof(*vars));
	Nap__EnvVar **ptrs = calloc(nenv ? nenv : 1, sizeof(*ptrs));
	const char *k;
	json_t *v;
	json_object_foreach(o->env, k, v)
	{
		if (!vars || !ptrs)
			break;
		nap__env_var__init(&vars[r.n_env]);
		vars[r.n_env].key = (char *)k;
		vars[r.n_env].value = (char *)json_string_value(v);
		ptrs[r.n_env] = &vars[r.n_env];
		r.n_env++;
	}
	r.env = ptrs;
	r.memory_bytes = (uint64_t)json_integer_value(json_object_get(o->rec, "memory"));
	r.timeout_s = SCHEDULE_TIMEOUT_MS / 1000;
	o->scheduled = true;
	call_unary("nap.Scheduler", "Run", &r.base, SCHEDULE_TIMEOUT_MS, ran, o);
	free(vars);
	free(ptrs);
}

/* Rolls out o->release (o->image, o->env) with o->want_instances. */
static void schedule(struct op *o, size_t count)
{
	if (!pick_slots(o, count)) {
		op_fail(o, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
		return;
	}
	run_slots(o);
}

static void rollout_marked(struct op *o)
{
	schedule(o, o->want_instances);
}

static void rollout(struct op *o)
{
	o->old_release = serving_release(o->rec);
	o->stage = "schedule";
	mark_pending(o, "schedule", rollout_marked);
}

/* --- deploy --- */

static void built(void *ud, bool end, int status, const char *message, ProtobufCMessage *msg)
{
	struct op *o = ud;
	if (!end) {
		const Nap__BuildEvent *ev = (const Nap__BuildEvent *)msg;
		progress(o, ev->stage && *ev->stage ? ev->stage : "build", ev->step, ev->steps, "%s",
			 ev->message ? ev->message : "");
		if (ev->image && *ev->image) {
			free(o->image);
			o->image = strdup(ev->image);
		}
		return;
	}
	if (status != NAP_OK) {
		op_fail(o, status, "%s", message);
		return;
	}
	if (!o->image) {
		op_fail(o, NAP_INTERNAL, "the builder reported no image");
		return;
	}
	rollout(o);
}

/* The merged environment stays within the limits, or the operation ends
 * before any work starts. */
static bool env_merged_ok(struct op *o)
{
	char why[512];
	if (request_env_merged_ok(o->env, why, sizeof(why)))
		return true;
	op_end(o, NAP_INVALID_ARGUMENT, "%s", why);
	return false;
}

static void deploy_loaded(struct op *o)
{
	if (!o->rec)
		o->rec = app_record_new(o->app);
	o->release = app_last_release(o->rec) + 1;
	json_t *cur = app_release(o->rec, 0);
	o->env = cur ? json_deep_copy(json_object_get(cur, "env")) : json_object();
	if (o->req_env)
		json_object_update(o->env, o->req_env);
	if (!env_merged_ok(o))
		return;
	if (!o->want_instances)
		o->want_instances = app_u32(o->rec, "instances");
	if (!o->want_instances)
		o->want_instances = 1;
	if (o->want_memory)
		json_object_set_new(o->rec, "memory", json_integer((json_int_t)o->want_memory));
	o->stage = "build";
	o->old_release = serving_release(o->rec);
	mark_pending(o, "build", deploy_build);
}

static void deploy_build(struct op *o)
{
	progress(o, "build", 0, 0, "building %s (release %u) from %s", o->app, o->release, o->dir);
	Nap__BuildRequest b = NAP__BUILD_REQUEST__INIT;
	b.app = o->app;
	b.release = o->release;
	b.dir = o->dir;
	b.push = true;
	call_stream(NULL, "nap.Builder", "Build", &b.base, deploy_timeout_s * 1000u, built, o);
}

/* --- env, rollback, start, scale, stop --- */

static bool need_app(struct op *o)
{
	if (!o->rec || !app_u32(o->rec, "release")) {
		op_end(o, NAP_NOT_FOUND, "no app %s has been deployed ('napc ls' lists the apps)",
		       o->app);
		return false;
	}
	return true;
}

static void setenv_loaded(struct op *o)
{
	if (!need_app(o))
		return;
	json_t *cur = app_release(o->rec, 0);
	o->env = json_deep_copy(json_object_get(cur, "env"));
	if (o->req_env)
		json_object_update(o->env, o->req_env);
	size_t i;
	json_t *k;
	json_array_foreach(o->req_unset, i, k) json_object_del(o->env, json_string_value(k));
	if (!env_merged_ok(o))
		return;
	o->image = strdup(json_string_value(json_object_get(cur, "image")));
	o->release = app_last_release(o->rec) + 1;
	o->want_instances = app_u32(o->rec, "instances");
	rollout(o);
}

static void rollback_loaded(struct op *o)
{
	if (!need_app(o))
		return;
	uint32_t cur = app_u32(o->rec, "release"), target = o->rollback_to;
	if (!target) {
		/* The release before the current one that is still kept. */
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(o->rec, "releases"), i, r)
		{
			uint32_t n = app_u32(r, "release");
			if (n < cur && n > target)
				target = n;
		}
	}
	json_t *rel = target ? app_release(o->rec, target) : NULL;
	if (!rel) {
		op_end(o, NAP_NOT_FOUND, "%s has no release %u to roll back to ('napc status %s' lists them)",
		       o->app, target, o->app);
		return;
	}
	o->image = strdup(json_string_value(json_object_get(rel, "image")));
	o->env = json_deep_copy(json_object_get(rel, "env"));
	o->release = app_last_release(o->rec) + 1;
	o->want_instances = app_u32(o->rec, "instances");
	rollout(o);
}

static void start_loaded(struct op *o)
{
	if (!need_app(o))
		return;
	const char *state = json_string_value(json_object_get(o->rec, "state"));
	if (state && strcmp(state, "running") == 0) {
		op_succeed(o);
		return;
	}
	json_t *cur = app_release(o->rec, 0);
	o->release = app_u32(o->rec, "release");
	o->image = strdup(json_string_value(json_object_get(cur, "image")));
	o->env = json_deep_copy(json_object_get(cur, "env"));
	o->want_instances = app_u32(o->rec, "instances");
	json_object_set_new(o->rec, "slots", json_array());
	o->old_release = 0;
	schedule(o, o->want_instances);
}

static void scale_removed(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		op_fail(o, status, "%s", message);
		return;
	}
	json_object_set_new(o->rec, "instances", json_integer(o->want_instances));
	o->old_release = 0;
	save_record(o, saved);
}

static void scale_withdrawn(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK)
		log_warning("scale %s: entries not withdrawn: %s", o->app, message);
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = o->app;
	r.release = o->release;
	r.n_instances = o->nslots;
	r.instances = o->slots;
	call_unary("nap.Scheduler", "Remove", &r.base, CLEANUP_TIMEOUT_MS, scale_removed, o);
}

static void scale_loaded(struct op *o)
{
	if (!need_app(o))
		return;
	const char *state = json_string_value(json_object_get(o->rec, "state"));
	if (!state || strcmp(state, "running") != 0) {
		json_object_set_new(o->rec, "instances", json_integer(o->want_instances));
		save_record(o, saved);
		return;
	}
	json_t *cur = app_release(o->rec, 0);
	o->release = app_u32(o->rec, "release");
	o->image = strdup(json_string_value(json_object_get(cur, "image")));
	o->env = json_deep_copy(json_object_get(cur, "env"));
	json_t *slots = json_object_get(o->rec, "slots");
	size_t have = json_array_size(slots);
	o->stage = "scale";
	if (o->want_instances > have) {
		/* New slots join the running ones; the record grows on success. */
		if (!pick_slots(o, o->want_instances - have)) {
			op_fail(o, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
			return;
		}
		for (size_t i = 0; i < o->nslots; i++)
			json_array_append_new(slots, json_integer(o->slots[i]));
		run_slots(o);
		return;
	}
	/* Scale down: the highest instance numbers go. */
	size_t drop = have - o->want_instances;
	if (drop == 0) {
		/* Already that many: an empty list would mean "all of them" to
		 * Withdraw and Remove. */
		scale_removed(o, NAP_OK, "", NULL);
		return;
	}
	o->slots = calloc(drop ? drop : 1, sizeof(uint32_t));
	while (o->slots && o->nslots < drop) {
		size_t last = json_array_size(slots) - 1;
		o->slots[o->nslots++] = (uint32_t)json_integer_value(json_array_get(slots, last));
		json_array_remove(slots, last);
	}
	Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
	w.app = o->app;
	w.release = o->release;
	w.n_instances = o->nslots;
	w.instances = o->slots;
	call_unary("nap.Discovery", "Withdraw", &w.base, CLEANUP_TIMEOUT_MS, scale_withdrawn, o);
}

static void stop_saved(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK)
		op_end(o, status, "%s stopped, but its state was not saved: %s", o->app, message);
	else
		op_succeed(o);
}

static void destroy_done(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK)
		op_end(o, status, "%s was stopped but its records remain: %s", o->app, message);
	else
		op_succeed(o);
}

static void image_removed(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	(void)ud;
	if (status != NAP_OK && status != NAP_NOT_FOUND)
		log_info("destroy: image not removed: %s", message);
}

static void all_withdrawn(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		op_end(o, status, "%s: its instances stopped but their entries remain: %s", o->app,
		       message);
		return;
	}
	if (o->kind == OP_STOP) {
		json_object_set_new(o->rec, "state", json_string("stopped"));
		json_object_set_new(o->rec, "slots", json_array());
		save_record(o, stop_saved);
		return;
	}
	/* destroy: the images of every release, then the records */
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(o->rec, "releases"), i, r)
	{
		Nap__RemoveImageRequest ri = NAP__REMOVE_IMAGE_REQUEST__INIT;
		ri.image = (char *)json_string_value(json_object_get(r, "image"));
		if (ri.image)
			call_unary("nap.Builder", "RemoveImage", &ri.base, 30000, image_removed, NULL);
	}
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "apps/%s/", o->app);
	Nap__GetRecordsRequest d = NAP__GET_RECORDS_REQUEST__INIT;
	d.prefix = prefix;
	call_unary("nap.Discovery", "DeleteRecords", &d.base, RECORD_TIMEOUT_MS, destroy_done, o);
}

static void all_removed(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)reply;
	struct op *o = ud;
	if (status != NAP_OK) {
		op_end(o, status, "cannot stop %s: %s", o->app, message);
		return;
	}
	Nap__WithdrawRequest w = NAP__WITHDRAW_REQUEST__INIT;
	w.app = o->app;
	call_unary("nap.Discovery", "Withdraw", &w.base, CLEANUP_TIMEOUT_MS, all_withdrawn, o);
}

static void stop_loaded(struct op *o)
{
	if (!o->rec) {
		op_end(o, NAP_NOT_FOUND, "no app %s ('napc ls' lists the apps)", o->app);
		return;
	}
	o->stage = o->kind == OP_STOP ? "stop" : "destroy";
	Nap__RemoveRequest r = NAP__REMOVE_REQUEST__INIT;
	r.app = o->app;
	call_unary("nap.Scheduler", "Remove", &r.base, CLEANUP_TIMEOUT_MS, all_removed, o);
}

/* --- status and list --- */

static void status_resolved(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	struct op *o = ud;
	if (status == NAP_OK) {
		keep_endpoints(o, (const Nap__EndpointList *)reply);
	} else {
		log_info("status %s: endpoints unknown: %s", o->app, message);
	}
	op_succeed(o);
}

static void status_loaded(struct op *o)
{
	if (!o->rec) {
		op_end(o, NAP_NOT_FOUND, "no app %s ('napc ls' lists the apps)", o->app);
		return;
	}
	Nap__ResolveRequest r = NAP__RESOLVE_REQUEST__INIT;
	r.app = o->app;
	call_unary("nap.Discovery", "Resolve", &r.base, RECORD_TIMEOUT_MS, status_resolved, o);
}

static void listed(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	struct op *o = ud;
	if (status != NAP_OK) {
		op_end(o, status, "cannot read the apps: %s", message);
		return;
	}
	const Nap__GetRecordsReply *rep = (const Nap__GetRecordsReply *)reply;
	Nap__ListAppsReply out = NAP__LIST_APPS_REPLY__INIT;
	json_t **recs = calloc(rep->n_records + 1, sizeof(*recs));
	out.apps = calloc(rep->n_records + 1, sizeof(*out.apps));
	for (size_t i = 0; recs && out.apps && i < rep->n_records; i++) {
		size_t kl = strlen(rep->records[i]->key);
		if (kl < 4 || strcmp(rep->records[i]->key + kl - 4, "/app") != 0)
			continue;
		json_t *rec = app_record_parse(rep->records[i]->value.data, rep->records[i]->value.len);
		if (!rec)
			continue;
		Nap__AppStatus *st = malloc(sizeof(*st));
		if (!st) {
			json_decref(rec);
			continue;
		}
		app_status_fill(st, rec, false);
		recs[out.n_apps] = rec;
		out.apps[out.n_apps++] = st;
	}
	if (o->client)
		nap_conn_reply(o->client->conn, o->call_id, &out.base);
	for (size_t i = 0; i < out.n_apps; i++) {
		app_status_clear(out.apps[i]);
		free(out.apps[i]);
		json_decref(recs[i]);
	}
	free(out.apps);
	free(recs);
	op_free(o);
}

/* --- entry --- */

static json_t *env_object(Nap__EnvVar **vars, size_t n, char *why, size_t whylen)
{
	return request_env_object(vars, n, why, whylen);
}

bool orchestrator_call(struct peer *p, const char *name, const Nap__Bus__Frame *f)
{
	static const struct {
		const char *method;
		enum op_kind kind;
	} table[] = {
		{"Deploy", OP_DEPLOY},	 {"SetEnv", OP_SETENV}, {"Rollback", OP_ROLLBACK},
		{"Scale", OP_SCALE},	 {"Stop", OP_STOP},	{"Start", OP_START},
		{"Destroy", OP_DESTROY}, {"ListApps", OP_LIST}, {"GetApp", OP_STATUS},
	};
	size_t t = 0;
	while (t < sizeof(table) / sizeof(table[0]) && strcmp(table[t].method, name) != 0)
		t++;
	if (t == sizeof(table) / sizeof(table[0]))
		return false;
	struct op *o = calloc(1, sizeof(*o));
	if (!o) {
		nap_conn_end(p->conn, f->call_id, NAP_RESOURCE_EXHAUSTED, "napd is out of memory");
		return true;
	}
	o->kind = table[t].kind;
	o->client = p;
	o->call_id = f->call_id;
	o->started_ms = wall_ms();
	o->stage = "start";
	const char *app = NULL;
	char why[512] = "";
	op_step_fn next = NULL;
	ProtobufCMessage *req = NULL;
	const ProtobufCMessageDescriptor *in =
		nap_method_get(&nap__control__descriptor, f->method)->input;
	req = protobuf_c_message_unpack(in, NULL, f->payload.len, f->payload.data);
	o->next = ops;
	ops = o;
	if (!req) {
		op_end(o, NAP_INVALID_ARGUMENT, "the request is not a valid %s", in->name);
		return true;
	}
	switch (o->kind) {
	case OP_DEPLOY: {
		Nap__DeployRequest *d = (Nap__DeployRequest *)req;
		app = d->app;
		o->dir = strdup(d->dir ? d->dir : "");
		o->want_instances = d->instances;
		o->want_memory = d->memory_bytes;
		if (d->memory_bytes && d->memory_bytes < 6u * 1024 * 1024)
			snprintf(why, sizeof(why), "the memory limit must be at least 6 MiB (Docker's "
						   "minimum)");
		o->req_env = env_object(d->env, d->n_env, why, sizeof(why));
		if (!o->req_env && !*why)
			snprintf(why, sizeof(why), "bad environment");
		if (!*why)
			request_dir_ok(o->dir, why, sizeof(why));
		next = deploy_loaded;
		break;
	}
	case OP_SETENV: {
		Nap__SetEnvRequest *s = (Nap__SetEnvRequest *)req;
		app = s->app;
		o->req_env = env_object(s->set, s->n_set, why, sizeof(why));
		if (!*why)
			request_unset_ok(s->unset, s->n_unset, why, sizeof(why));
		o->req_unset = json_array();
		for (size_t i = 0; !*why && i < s->n_unset; i++)
			json_array_append_new(o->req_unset, json_string(s->unset[i]));
		next = setenv_loaded;
		break;
	}
	case OP_ROLLBACK:
		app = ((Nap__RollbackRequest *)req)->app;
		o->rollback_to = ((Nap__RollbackRequest *)req)->release;
		next = rollback_loaded;
		break;
	case OP_SCALE:
		app = ((Nap__ScaleRequest *)req)->app;
		o->want_instances = ((Nap__ScaleRequest *)req)->instances;
		if (o->want_instances < 1 || o->want_instances > APP_INSTANCES_MAX)
			snprintf(why, sizeof(why),
				 "instances must be 1 to %d (NAP_INSTANCES_MAX; use 'napc stop' for none)",
				 APP_INSTANCES_MAX);
		next = scale_loaded;
		break;
	case OP_STOP:
	case OP_DESTROY:
		app = ((Nap__AppRequest *)req)->app;
		next = stop_loaded;
		break;
	case OP_START:
		app = ((Nap__AppRequest *)req)->app;
		next = start_loaded;
		break;
	case OP_STATUS:
		app = ((Nap__AppRequest *)req)->app;
		next = status_loaded;
		break;
	case OP_LIST:
	case OP_RECOVER: /* napd's own, never a request */
		app = "";
		break;
	}

	if (o->kind == OP_DEPLOY && o->want_instances > APP_INSTANCES_MAX)
		snprintf(why, sizeof(why), "instances must be 1 to %d (NAP_INSTANCES_MAX)",
			 APP_INSTANCES_MAX);
	/* Names are checked before any work starts: they end up in container
	 * names, keys and labels. */
	if (o->kind != OP_LIST && !nap_app_name_valid(app)) {
		op_end(o, NAP_INVALID_ARGUMENT, "'%.80s' is not a valid app name: %s", app ? app : "",
		       NAP_APP_NAME_RULE);
		protobuf_c_message_free_unpacked(req, NULL);
		return true;
	}
	snprintf(o->app, sizeof(o->app), "%s", app);
	protobuf_c_message_free_unpacked(req, NULL);
	if (*why) {
		op_end(o, NAP_INVALID_ARGUMENT, "%s", why);
		return true;
	}
	if (o->kind == OP_LIST) {
		Nap__GetRecordsRequest g = NAP__GET_RECORDS_REQUEST__INIT;
		g.prefix = (char *)"apps/";
		call_unary("nap.Discovery", "GetRecords", &g.base, RECORD_TIMEOUT_MS, listed, o);
		return true;
	}
	if (o->kind != OP_STATUS) {
		for (struct op *other = ops; other; other = other->next) {
			if (other != o && other->kind != OP_STATUS && strcmp(other->app, o->app) == 0) {
				o->waiting = true;
				o->step = next;
				log_info("%s %s: waits for the %s in progress", op_names[o->kind],
					 o->app, op_names[other->kind]);
				progress(o, "wait", 0, 0, "waiting for the %s of %s in progress",
					 op_names[other->kind], o->app);
				return true;
			}
		}
	}
	log_info("%s %s", op_names[o->kind], o->app);
	load_record(o, next);
	return true;
}

/* --- start-up: settle what an earlier napd left half done --- */

static bool app_busy(const char *app)
{
	for (struct op *o = ops; o; o = o->next)
		if (o->kind != OP_STATUS && o->kind != OP_LIST && strcmp(o->app, app) == 0)
			return true;
	return false;
}

static void recover_scanned(void *ud, int status, const char *message, ProtobufCMessage *reply)
{
	(void)ud;
	if (status != NAP_OK) {
		log_warning("cannot look for interrupted operations: %s; trying again in 5 s",
			    message);
		loop_timer_arm(&scan_timer, 5u * 1000u * 1000u);
		return;
	}
	const Nap__GetRecordsReply *rep = (const Nap__GetRecordsReply *)reply;
	for (size_t i = 0; i < rep->n_records; i++) {
		/* apps/<app>/pending */
		const char *key = rep->records[i]->key;
		const char *slash = strchr(key + 5, '/');
		char app[64];
		if (strncmp(key, "apps/", 5) != 0 || !slash || strcmp(slash, "/pending") != 0 ||
		    (size_t)(slash - key - 5) >= sizeof(app))
			continue;
		snprintf(app, sizeof(app), "%.*s", (int)(slash - key - 5), key + 5);
		if (!nap_app_name_valid(app) || app_busy(app))
			continue; /* an operation on it settles the marker first */
		json_t *m = json_loadb((const char *)rep->records[i]->value.data,
				       rep->records[i]->value.len, 0, NULL);
		bool others = json_is_object(m) && !pending_is_mine(m) && !pending_abandoned(m);
		json_decref(m);
		if (others)
			continue; /* another napd's operation, maybe still running */
		struct op *o = calloc(1, sizeof(*o));
		if (!o)
			return;
		o->kind = OP_RECOVER;
		o->started_ms = wall_ms();
		o->stage = "recover";
		snprintf(o->app, sizeof(o->app), "%s", app);
		o->next = ops;
		ops = o;
		log_notice("%s: an operation was interrupted when napd stopped; settling it", app);
		load_record(o, op_succeed);
	}
}

static bool service_runs(const char *service)
{
	struct plugin *pl = router_provider(service);
	return pl && pl->state == PLUGIN_RUNNING;
}

static void recover_scan(void *ud)
{
	(void)ud;
	if (!service_runs("nap.Discovery") || !service_runs("nap.Scheduler")) {
		/* Not there yet (or not configured at all): look again, less
		 * often after the first minute. */
		scan_rounds++;
		loop_timer_arm(&scan_timer, (scan_rounds < 300 ? 200u : 5000u) * 1000u);
		return;
	}
	Nap__GetRecordsRequest g = NAP__GET_RECORDS_REQUEST__INIT;
	g.prefix = (char *)"apps/";
	call_unary("nap.Discovery", "GetRecords", &g.base, RECORD_TIMEOUT_MS, recover_scanned, NULL);
}
