#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nap/bus.pb-c.h>
#include <nap/limits.h>
#include <nap/plugin.h>

#include "host.h"
#include "identity.h"
#include "log.h"
#include "peer.h"
#include "router.h"
#include "supervisor.h"

/* Restart delays: 200 ms doubling to 30 s; a plugin that ran this long
 * before it stopped starts again from the shortest delay. */
#define BACKOFF_MIN_US (200u * 1000u)
#define BACKOFF_MAX_US (30u * 1000u * 1000u)
#define STABLE_US (10u * 1000u * 1000u)

static struct plugin *plugins;
static size_t nplugins;
static unsigned deploy_timeout_s; /* napd.conf's, for the orchestrator */
static const char *key_prefix;    /* napd.conf's, for every plugin that keeps records */

const char *plugin_state_name(enum plugin_state s)
{
	switch (s) {
	case PLUGIN_STARTING:
		return "starting";
	case PLUGIN_RUNNING:
		return "running";
	case PLUGIN_BACKOFF:
		return "restarting";
	case PLUGIN_FAILED:
		return "failed";
	case PLUGIN_STOPPED:
		return "stopped";
	}
	return "?";
}

static void forget_info(struct plugin *pl)
{
	for (size_t i = 0; i < pl->nservices; i++)
		free(pl->services[i]);
	free(pl->services);
	pl->services = NULL;
	pl->nservices = 0;
}

/* --- the plugin provider: calls passed on to a plugin host --- */

/* A call from one peer passed on to the plugin providing its service. */
struct forward {
	struct inflight in; /* first: the router hands it back */
	nap_call *call;
	struct plugin *to;
};

static void forward_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct forward *fw = ud;
	struct peer *from = fw->in.from;
	if (!r->end) {
		if (from)
			nap_conn_send_raw(from->conn, fw->in.id, r->payload, r->payload_len);
		return;
	}
	if (from) {
		router_untrack(&fw->in);
		if (r->status == NAP_OK) {
			nap_conn_reply_raw(from->conn, fw->in.id, r->payload, r->payload_len);
		} else if (r->status == NAP_UNAVAILABLE && fw->to->state != PLUGIN_RUNNING) {
			nap_conn_end(from->conn, fw->in.id, NAP_UNAVAILABLE,
				     "plugin %s stopped during the call (%s); napd restarts it, "
				     "try again shortly",
				     fw->to->conf->name, r->message);
		} else {
			nap_conn_end(from->conn, fw->in.id, r->status, "%s", r->message);
		}
	}
	free(fw);
}

static void forward_window(nap_call *call, uint32_t granted, void *ud);

static void forward_call(struct provider *pv, struct peer *from, const Nap__Bus__Frame *f,
			 const char *service, uint32_t method)
{
	struct plugin *pl = pv->ud;
	if (pl->state != PLUGIN_RUNNING || !pl->peer) {
		nap_conn_end(from->conn, f->call_id, NAP_UNAVAILABLE,
			     "plugin %s, which provides %s, is %s (%s); try again shortly",
			     pl->conf->name, service, plugin_state_name(pl->state),
			     pl->last_error[0] ? pl->last_error : "no error recorded");
		return;
	}
	struct forward *fw = calloc(1, sizeof(*fw));
	if (!fw) {
		nap_conn_end(from->conn, f->call_id, NAP_RESOURCE_EXHAUSTED,
			     "napd is out of memory");
		return;
	}
	fw->in = (struct inflight){.from = from, .id = f->call_id, .to = pv};
	fw->to = pl;
	int r = nap_call_start_raw(&fw->call, pl->peer->conn, service, method, f->payload.data,
				   f->payload.len, f->timeout_ms, forward_done, fw);
	if (r < 0) {
		free(fw);
		nap_conn_end(from->conn, f->call_id, NAP_UNAVAILABLE,
			     "could not pass the call to plugin %s: %s", pl->conf->name,
			     nap_strerror(r));
		return;
	}
	if (router_track(&fw->in) < 0) {
		fw->in.from = NULL;
		nap_call_cancel(fw->call);
		nap_conn_end(from->conn, f->call_id, NAP_RESOURCE_EXHAUSTED,
			     "napd is out of memory");
		return;
	}
	nap_call_set_window(fw->call, forward_window);
	/* A caller older than 1.2 cannot stream: its one request is the whole
	 * stream, so a handler that reads on hears the end at once. */
	const Nap__Bus__Hello *h = nap_conn_peer_hello(from->conn);
	if (!h || h->protocol_minor < 2)
		(void)nap_call_close_send(fw->call);
}

/* The caller is gone or cancelled: forward_done, called by the cancel,
 * frees fw. */
static void forward_cancel(struct inflight *c)
{
	struct forward *fw = (struct forward *)c;
	nap_call_cancel(fw->call);
}

/* Ends a call whose caller broke the rules of its request stream: the
 * caller hears why, the plugin is told to cancel (forward_done frees fw). */
static void forward_refuse(struct forward *fw, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void forward_refuse(struct forward *fw, int status, const char *fmt, ...)
{
	char msg[NAP_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	router_untrack(&fw->in);
	nap_conn_end(fw->in.from->conn, fw->in.id, status, "%s", msg);
	fw->in.from = NULL;
	nap_call_cancel(fw->call);
}

/* The caller's request stream, passed on as it comes: napd holds none of it
 * (at most what the plugin's socket does not take at once, and the credit
 * bounds that). The credit napd has on its call to the plugin is the
 * plugin's, and it passes every WINDOW on (forward_window): so a caller
 * within its own credit always finds room, and one that is not has gone
 * past what it was granted. */
static void forward_stream(struct inflight *c, const Nap__Bus__Frame *f)
{
	struct forward *fw = (struct forward *)c;
	size_t credit = nap_call_credit(fw->call);
	int r = f->kind == NAP__BUS__KIND__END
			? nap_call_close_send(fw->call)
			: nap_call_send_raw(fw->call, f->payload.data, f->payload.len);
	switch (r) {
	case 0:
		return;
	case -EAGAIN:
	case -EMSGSIZE:
		forward_refuse(fw, NAP_RESOURCE_EXHAUSTED,
			       "a request message of %zu bytes is over the credit left (%zu "
			       "bytes): a caller sends only what WINDOW frames allow (%u bytes at "
			       "first, NAP_STREAM_WINDOW; docs/protocol.md section 5)",
			       f->payload.len, credit, NAP_STREAM_WINDOW);
		return;
	case -EPIPE:
		forward_refuse(fw, NAP_INVALID_ARGUMENT,
			       "a request message after the caller's half-close (END)");
		return;
	default:
		/* The plugin's connection failed, or the plugin is older than
		 * 1.2: the call was ended, and forward_done told the caller. */
		return;
	}
}

/* The plugin granted credit: the caller may send that much more. */
static void forward_window(nap_call *call, uint32_t granted, void *ud)
{
	(void)call;
	struct forward *fw = ud;
	if (fw->in.from && granted)
		(void)nap_conn_window(fw->in.from->conn, fw->in.id, granted);
}

static const struct provider_ops plugin_ops = {
	.call = forward_call,
	.cancel = forward_cancel,
	.stream = forward_stream,
};

static void spawn(struct plugin *pl);
static const struct peer_ops host_ops;

static void restart_due(void *ud)
{
	struct plugin *pl = ud;
	if (pl->state == PLUGIN_BACKOFF) {
		pl->restarts++;
		spawn(pl);
	}
}

static void spawn(struct plugin *pl)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(pl->last_error, sizeof(pl->last_error), "socketpair: %s", strerror(errno));
		pl->state = PLUGIN_BACKOFF;
		loop_timer_arm(&pl->restart, BACKOFF_MAX_US);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(pl->last_error, sizeof(pl->last_error), "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		pl->state = PLUGIN_BACKOFF;
		loop_timer_arm(&pl->restart, BACKOFF_MAX_US);
		return;
	}
	if (pid == 0) {
		/* The host is napd itself in another mode: nothing to find on
		 * disk, and the same build as the daemon. */
		if (sv[1] == HOST_FD) {
			if (fcntl(HOST_FD, F_SETFD, 0) < 0)
				_exit(HOST_EXIT_FAILED);
		} else if (dup2(sv[1], HOST_FD) < 0) {
			_exit(HOST_EXIT_FAILED);
		}
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		char level[8];
		snprintf(level, sizeof(level), "%d", log_get_level());
		char argv0[96];
		snprintf(argv0, sizeof(argv0), "napd[%s]", pl->conf->name);
		char *argv[] = {argv0,
				"--plugin-host",
				(char *)pl->conf->path,
				(char *)pl->conf->name,
				level,
				log_uses_syslog() ? "syslog" : "stderr",
				NULL};
		execv("/proc/self/exe", argv);
		_exit(HOST_EXIT_FAILED);
	}
	close(sv[1]);
	pl->pid = pid;
	pl->state = PLUGIN_STARTING;
	pl->started_at = nap_now_usec();
	char name[64];
	snprintf(name, sizeof(name), "plugin %s", pl->conf->name);
	struct peer *p;
	int r = peer_new(&p, sv[0], name, &host_ops, pl);
	if (r < 0) {
		snprintf(pl->last_error, sizeof(pl->last_error), "%s", strerror(-r));
		kill(pid, SIGKILL);
		return; /* reaped and retried on SIGCHLD */
	}
	pl->peer = p;
	/* napd speaks first: the protocol and the plugin's settings. */
	Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
	h.protocol_major = NAP_PROTOCOL_MAJOR;
	h.protocol_minor = NAP_PROTOCOL_MINOR;
	h.peer_name = (char *)"napd";
	h.peer_version = (char *)PACKAGE_VERSION;
	h.plugin_name = (char *)pl->conf->name;
	/* Its settings, then napd.id (identity.h): what the plugin labels and
	 * owns is this napd's, among others sharing the host or the etcd. */
	char id[400], timeout[64], prefix[NAP_KEY_PREFIX_MAX + 32], *config[NAP_CONFIG_MAX + 3];
	size_t n = 0;
	for (; n < pl->conf->nsettings && n < NAP_CONFIG_MAX; n++)
		config[n] = pl->conf->settings[n];
	snprintf(id, sizeof(id), "napd.id=%s", identity());
	config[n++] = id;
	/* and how long an app operation may take (deploy_timeout) */
	snprintf(timeout, sizeof(timeout), "napd.deploy_timeout=%u", deploy_timeout_s);
	config[n++] = timeout;
	/* and where nap's own records live in etcd (key_prefix) */
	snprintf(prefix, sizeof(prefix), "napd.key_prefix=%s", key_prefix);
	config[n++] = prefix;
	h.n_config = n;
	h.config = config;
	nap_conn_send_hello(p->conn, &h);
	log_info("plugin %s: started (pid %d)", pl->conf->name, (int)pid);
}

static bool strv_has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Refuses a running plugin for good: another one, listed before it, wants a
 * service it registered. */
static void evict(struct plugin *owner, const char *service, const struct plugin *winner)
{
	snprintf(owner->last_error, sizeof(owner->last_error),
		 "refused: service %s is already provided by %s", service, winner->conf->name);
	log_error("plugin %s: %s", owner->conf->name, owner->last_error);
	owner->permanent = true;
	router_unregister(&owner->provider);
	if (owner->peer)
		nap_conn_abort(owner->peer->conn, NAP_ALREADY_EXISTS, "%s", owner->last_error);
}

/* Refuses a plugin for good: logs why once and closes its connection. */
static void refuse(struct plugin *pl, struct peer *p, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse(struct plugin *pl, struct peer *p, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pl->last_error, sizeof(pl->last_error), fmt, ap);
	va_end(ap);
	log_error("plugin %s: %s", pl->conf->name, pl->last_error);
	pl->permanent = true;
	router_unregister(&pl->provider);
	nap_conn_abort(p->conn, status, "%s", pl->last_error);
}

/* What a plugin host says in its HELLO is checked like any request: it
 * names the plugin napd started, and a bounded list of plain service names. */
static bool hello_ok(struct plugin *pl, struct peer *p, const Nap__Bus__Hello *h)
{
	if (!h->plugin_name || strcmp(h->plugin_name, pl->conf->name) != 0) {
		refuse(pl, p, NAP_PERMISSION_DENIED,
		       "refused: its host calls it '%.64s', napd started it as %s",
		       h->plugin_name ? h->plugin_name : "", pl->conf->name);
		return false;
	}
	if (h->n_services > NAP_SERVICES_MAX) {
		refuse(pl, p, NAP_INVALID_ARGUMENT,
		       "refused: %zu services is more than the limit of %u (NAP_SERVICES_MAX)",
		       h->n_services, NAP_SERVICES_MAX);
		return false;
	}
	for (size_t i = 0; i < h->n_services; i++) {
		size_t n = strlen(h->services[i]);
		if (n == 0 || n > NAP_NAME_MAX) {
			refuse(pl, p, NAP_INVALID_ARGUMENT,
			       "refused: a service name of %zu bytes (1 to %u, NAP_NAME_MAX)", n,
			       NAP_NAME_MAX);
			return false;
		}
	}
	return true;
}

/* A plugin host said HELLO again (frame f): services come from the first
 * HELLO only, so the plugin is refused for good, with one log line naming the
 * service it tried to take and the plugin that owns it. */
static void second_hello(struct plugin *pl, struct peer *p, const Nap__Bus__Frame *f)
{
	/* The first HELLO was judged before (peer.c): its refusal stands. */
	if (pl->permanent)
		return;
	Nap__Bus__Hello *h = nap__bus__hello__unpack(NULL, f->payload.len, f->payload.data);
	const char *taken = NULL;
	for (size_t i = 0; h && !taken && i < h->n_services; i++)
		if (!strv_has(pl->services, pl->nservices, h->services[i]))
			taken = h->services[i];
	struct provider *owner = taken ? router_provider(taken) : NULL;
	if (owner && owner != &pl->provider)
		refuse(pl, p, NAP_PERMISSION_DENIED,
		       "refused: it tried to register service %.255s, which %s%s provides, "
		       "with a second HELLO",
		       taken, owner->ops == &plugin_ops ? "plugin " : "", owner->name);
	else if (taken)
		refuse(pl, p, NAP_PERMISSION_DENIED,
		       "refused: it tried to register service %.255s, which it did not declare "
		       "when it started, with a second HELLO",
		       taken);
	else
		refuse(pl, p, NAP_PERMISSION_DENIED,
		       "refused: its host sent a second HELLO; a plugin registers its services "
		       "once");
	if (h)
		nap__bus__hello__free_unpacked(h, NULL);
}

/* A plugin host sent its HELLO: registers its services. */
static void first_hello(struct plugin *pl, struct peer *p)
{
	const Nap__Bus__Hello *h = nap_conn_peer_hello(p->conn);
	if (!hello_ok(pl, p, h))
		return;
	forget_info(pl);
	free(pl->version);
	free(pl->description);
	pl->version = strdup(h->plugin_version ? h->plugin_version : "");
	pl->description = strdup(h->plugin_description ? h->plugin_description : "");
	pl->abi = h->plugin_abi;
	/* A plugin may not take over a service another plugin provides: the
	 * first one configured keeps it, the second is refused for good. */
	for (size_t i = 0; i < h->n_services; i++) {
		if (router_multi_service(h->services[i]))
			continue; /* schedulers live side by side: SERVICE@plugin */
		struct provider *pv = router_provider(h->services[i]);
		struct plugin *owner = pv && pv->ops == &plugin_ops ? pv->ud : NULL;
		if (owner && owner != pl && owner > pl) {
			/* Plugins start in parallel; whichever says HELLO first, the
			 * one listed first in napd.conf keeps the service. */
			evict(owner, h->services[i], pl);
			pv = NULL;
		}
		if (pv && pv != &pl->provider) {
			snprintf(pl->last_error, sizeof(pl->last_error),
				 "refused: service %s is already provided by %s", h->services[i],
				 owner ? owner->conf->name : pv->name);
			log_error("plugin %s: %s", pl->conf->name, pl->last_error);
			pl->permanent = true;
			nap_conn_abort(p->conn, NAP_ALREADY_EXISTS, "%s", pl->last_error);
			return;
		}
	}
	router_unregister(&pl->provider); /* a restarted plugin may provide other services */
	pl->services = calloc(h->n_services ? h->n_services : 1, sizeof(char *));
	for (size_t i = 0; pl->services && i < h->n_services; i++) {
		if (strv_has(pl->services, pl->nservices, h->services[i]))
			continue;
		struct provider *owner;
		pl->services[pl->nservices++] = strdup(h->services[i]);
		router_register(h->services[i], &pl->provider, &owner);
	}
	pl->state = PLUGIN_RUNNING;
	pl->last_error[0] = pl->restarts ? pl->last_error[0] : '\0';
	log_notice("plugin %s %s: running (pid %d, %zu service%s)", pl->conf->name, pl->version,
		   (int)pl->pid, pl->nservices, pl->nservices == 1 ? "" : "s");
}

/* A plugin host's connection ended: its calls fail; the process is reaped
 * on SIGCHLD. */
static void conn_closed(struct plugin *pl, int status, const char *message)
{
	pl->peer = NULL;
	if (pl->state == PLUGIN_STOPPED) {
		router_unregister(&pl->provider);
		return;
	}
	/* A plugin host that cannot work says why in an END before it exits;
	 * keep the first reason, it is the one the operator needs. */
	if (status != NAP_UNAVAILABLE || !pl->last_error[0] || pl->state == PLUGIN_RUNNING)
		snprintf(pl->last_error, sizeof(pl->last_error), "%s", message);
	if (status == NAP_FAILED_PRECONDITION || status == NAP_ALREADY_EXISTS)
		pl->permanent = true;
	pl->state = pl->permanent ? PLUGIN_FAILED : PLUGIN_BACKOFF;
	/* A restarting plugin keeps its routes, so that its callers read
	 * UNAVAILABLE ("try again shortly"), not "no such service". */
	if (pl->permanent)
		router_unregister(&pl->provider);
	/* A host without its socket has no reason to live; a refused one
	 * exits by itself once napd has read why. */
	if (pl->pid > 0 && !pl->permanent)
		kill(pl->pid, SIGTERM);
}

/* --- what a plugin host's connection says --- */

static void host_hello(struct peer *p, const Nap__Bus__Frame *f)
{
	if (f)
		second_hello(p->owner, p, f);
	else
		first_hello(p->owner, p);
}

static void host_gone(struct peer *p, int status, const char *why)
{
	router_peer_gone(p);
	conn_closed(p->owner, status, why);
}

static const struct peer_ops host_ops = {
	.incoming = router_incoming,
	.hello = host_hello,
	.gone = host_gone,
};

static struct plugin *by_pid(pid_t pid)
{
	for (size_t i = 0; i < nplugins; i++)
		if (plugins[i].pid == pid)
			return &plugins[i];
	return NULL;
}

static void describe_exit(char *buf, size_t n, int wstatus)
{
	if (WIFSIGNALED(wstatus))
		snprintf(buf, n, "killed by signal %d (%s)%s", WTERMSIG(wstatus),
			 strsignal(WTERMSIG(wstatus)), WCOREDUMP(wstatus) ? ", core dumped" : "");
	else
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(wstatus));
}

void supervisor_reap(void)
{
	int wstatus;
	pid_t pid;
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct plugin *pl = by_pid(pid);
		if (!pl)
			continue;
		pl->pid = 0;
		if (pl->peer)
			peer_kill(pl->peer, "plugin host exited");
		if (pl->state == PLUGIN_STOPPED)
			continue;
		char how[160];
		describe_exit(how, sizeof(how), wstatus);
		if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == HOST_EXIT_REFUSED)
			pl->permanent = true;
		if (pl->permanent) {
			pl->state = PLUGIN_FAILED;
			log_error("plugin %s not restarted (%s): %s", pl->conf->name, how,
				  pl->last_error[0] ? pl->last_error : "refused");
			continue;
		}
		uint64_t ran = nap_now_usec() - pl->started_at;
		if (ran >= STABLE_US)
			pl->failures_in_a_row = 0;
		uint64_t delay = BACKOFF_MIN_US;
		for (unsigned i = 0; i < pl->failures_in_a_row && delay < BACKOFF_MAX_US; i++)
			delay *= 2;
		if (delay > BACKOFF_MAX_US)
			delay = BACKOFF_MAX_US;
		pl->failures_in_a_row++;
		char why[sizeof(pl->last_error)];
		snprintf(why, sizeof(why), "%s", how);
		snprintf(pl->last_error, sizeof(pl->last_error), "%s", why);
		pl->state = PLUGIN_BACKOFF;
		log_warning("plugin %s: %s; restarting in %llu ms", pl->conf->name, how,
			    (unsigned long long)(delay / 1000));
		loop_timer_arm(&pl->restart, delay);
	}
}

int supervisor_start(const struct napd_config *cfg)
{
	plugins = calloc(cfg->nplugins ? cfg->nplugins : 1, sizeof(*plugins));
	if (!plugins)
		return -ENOMEM;
	nplugins = cfg->nplugins;
	deploy_timeout_s = cfg->deploy_timeout_s;
	key_prefix = cfg->key_prefix;
	for (size_t i = 0; i < nplugins; i++) {
		struct plugin *pl = &plugins[i];
		pl->conf = &cfg->plugins[i];
		pl->restart = (struct loop_timer){.fn = restart_due, .ud = pl};
		pl->provider =
			(struct provider){.ops = &plugin_ops, .name = pl->conf->name, .ud = pl};
		spawn(pl);
	}
	return 0;
}

void supervisor_stop(unsigned timeout_ms)
{
	for (size_t i = 0; i < nplugins; i++) {
		struct plugin *pl = &plugins[i];
		loop_timer_disarm(&pl->restart);
		pl->state = PLUGIN_STOPPED;
		/* EOF on its socket tells the host to shut its plugin down. */
		if (pl->peer)
			peer_kill(pl->peer, "napd is stopping");
	}
	peers_idle();
	uint64_t until = nap_now_usec() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		size_t alive = 0;
		for (size_t i = 0; i < nplugins; i++) {
			if (plugins[i].pid <= 0)
				continue;
			if (waitpid(plugins[i].pid, NULL, WNOHANG) == plugins[i].pid)
				plugins[i].pid = 0;
			else
				alive++;
		}
		if (!alive)
			break;
		if (nap_now_usec() >= until) {
			for (size_t i = 0; i < nplugins; i++) {
				if (plugins[i].pid > 0) {
					log_warning("plugin %s: did not stop in %u ms, killing it",
						    plugins[i].conf->name, timeout_ms);
					kill(plugins[i].pid, SIGKILL);
					waitpid(plugins[i].pid, NULL, 0);
					plugins[i].pid = 0;
				}
			}
			break;
		}
		usleep(10000);
	}
	for (size_t i = 0; i < nplugins; i++) {
		forget_info(&plugins[i]);
		free(plugins[i].version);
		free(plugins[i].description);
	}
	free(plugins);
	plugins = NULL;
	nplugins = 0;
}

void supervisor_list(Nap__ListPluginsReply *reply)
{
	reply->plugins = calloc(nplugins ? nplugins : 1, sizeof(*reply->plugins));
	if (!reply->plugins)
		return;
	for (size_t i = 0; i < nplugins; i++) {
		struct plugin *pl = &plugins[i];
		Nap__PluginInfo *pi = malloc(sizeof(*pi));
		if (!pi)
			break;
		nap__plugin_info__init(pi);
		pi->name = (char *)pl->conf->name;
		pi->path = (char *)pl->conf->path;
		pi->version = pl->version ? pl->version : (char *)"";
		pi->description = pl->description ? pl->description : (char *)"";
		pi->state = (char *)plugin_state_name(pl->state);
		pi->n_services = pl->nservices;
		pi->services = pl->services;
		pi->pid = pl->pid;
		pi->restarts = pl->restarts;
		pi->last_error = pl->last_error;
		pi->abi = pl->abi;
		reply->plugins[reply->n_plugins++] = pi;
	}
}

void supervisor_list_free(Nap__ListPluginsReply *reply)
{
	for (size_t i = 0; i < reply->n_plugins; i++)
		free(reply->plugins[i]);
	free(reply->plugins);
	reply->plugins = NULL;
	reply->n_plugins = 0;
}
