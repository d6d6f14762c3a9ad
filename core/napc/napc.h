/* napc: shared pieces of the command-line client. */
#ifndef NAPC_H
#define NAPC_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>

/* Exit codes scripts can rely on (napc(1)). */
enum napc_exit {
	NAPC_EXIT_OK = 0,
	NAPC_EXIT_FAILED = 1,      /* napd answered: the operation failed */
	NAPC_EXIT_USAGE = 2,       /* bad command line or argument */
	NAPC_EXIT_UNREACHABLE = 3, /* napd cannot be reached */
};

/* Where napd is: --host / $NAP_HOST, parsed (hosturl.c). */
struct napc_host {
	const char *url; /* as given, for messages */
	bool ssh;        /* ssh://: through a bridge on the server (remote.c) */
	char *user;      /* ssh: NULL for ssh's default */
	char *host;      /* ssh: name or address, no brackets */
	char *port;      /* ssh: NULL for ssh's default */
	char *socket;    /* local: the socket; ssh: napd's socket there, NULL = its default */
};

struct napc_ssh; /* a running ssh child (remote.c) */

struct napc {
	const char *socket;
	struct napc_host host; /* host.ssh: napd is reached over ssh */
	struct napc_ssh *ssh;
	bool json;
	nap_conn *conn;
	uint32_t timeout_ms;
	bool timeout_given; /* --timeout: also bounds operations napd bounds itself */
};

/* Connects (once); on failure prints one line naming the socket and how to
 * start napd, and returns NAPC_EXIT_UNREACHABLE. */
int napc_connect(struct napc *n);
/* Maps a failed call to an exit code after printing "napc: <message>". */
int napc_fail(struct napc *n, const nap_error *err, int r);

/* Where napd is, for messages: the ssh:// URL or the local socket path. */
const char *napc_where(const struct napc *n);
/* Prints the one line saying why connecting to the local socket at path
 * failed (r: a negative errno from connect). */
void napc_print_connect_error(const char *path, int r);

/* Parses --host or $NAP_HOST (source names which, for messages) into *h;
 * on bad input prints one line and returns NAPC_EXIT_USAGE. h->url points
 * at url. Free with napc_host_clear(), also after a failure. */
int napc_host_parse(struct napc_host *h, const char *source, const char *url);
void napc_host_clear(struct napc_host *h);

/* ssh (remote.c). Starts ssh to n->host running the bridge there, adopts
 * the connection and waits for napd's HELLO (n->timeout_ms); on failure
 * prints one line naming the hop that failed and returns an exit code. */
int napc_ssh_connect(struct napc *n);
/* After the connection failed: if ssh or the bridge did, prints one line
 * naming that hop and returns NAPC_EXIT_UNREACHABLE; 0 when they did not
 * (napd closed the connection itself, or ssh still runs). */
int napc_ssh_diagnose(struct napc *n);
/* Frees n->conn, then ends and reaps the ssh child (bounded wait). */
void napc_ssh_close(struct napc *n);

/* napc dial-stdio (dial.c): the bridge, run on the server by ssh. */
int napc_cmd_dial_stdio(struct napc *n, int argc, char **argv);

typedef int (*napc_cmd_fn)(struct napc *n, int argc, char **argv);

/* The app commands (apps.c); argv[0] is the command's name. */
int napc_cmd_deploy(struct napc *n, int argc, char **argv);
int napc_cmd_ls(struct napc *n, int argc, char **argv);
int napc_cmd_status(struct napc *n, int argc, char **argv);
int napc_cmd_endpoints(struct napc *n, int argc, char **argv);
int napc_cmd_scale(struct napc *n, int argc, char **argv);
int napc_cmd_env(struct napc *n, int argc, char **argv);
int napc_cmd_rollback(struct napc *n, int argc, char **argv);
int napc_cmd_logs(struct napc *n, int argc, char **argv);
int napc_cmd_stop(struct napc *n, int argc, char **argv);
int napc_cmd_start(struct napc *n, int argc, char **argv);
int napc_cmd_destroy(struct napc *n, int argc, char **argv);
int napc_cmd_check(struct napc *n, int argc, char **argv);
/* export and import (backup.c) */
int napc_cmd_export(struct napc *n, int argc, char **argv);
int napc_cmd_import(struct napc *n, int argc, char **argv);

/* Starts the Deploy that names context_id (upload.c calls it once the
 * builder answered the id); returns an exit code, after printing one line
 * when it is not NAPC_EXIT_OK. */
typedef int (*napc_context_fn)(void *ud, const char *context_id);

/* Packs dir as the calling user and uploads it with nap.Builder.Upload,
 * showing the bytes sent (upload.c); on_id starts the Deploy as soon as the
 * context has an id, so that its build overlaps the upload. *stop becoming
 * true (the Deploy ended) stops the upload. Returns an exit code, after
 * printing one line when it is not NAPC_EXIT_OK; NAPC_EXIT_OK also when
 * *stop cut the upload short or the upload failed once the Deploy had
 * started (its build then fails, and the Deploy's end says why). */
int napc_upload_context(struct napc *n, const char *app, const char *dir, napc_context_fn on_id,
			void *ud, const bool *stop);

/* Output (show.c). */
json_t *napc_endpoints_json(Nap__Endpoint **eps, size_t n);
/* True if one of the endpoints is an instance's extra port (1.2): the app
 * has several, and napc names each by its container port. */
bool napc_endpoints_have_extra(Nap__Endpoint **eps, size_t n);
json_t *napc_status_json(const Nap__AppStatus *s);
void napc_print_json(json_t *j); /* and frees it */
void napc_print_endpoints(Nap__Endpoint **eps, size_t n);
void napc_print_status(const struct napc *n, const Nap__AppStatus *s);

#endif
