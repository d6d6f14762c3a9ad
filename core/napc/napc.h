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

struct napc {
	const char *socket;
	bool json;
	nap_conn *conn;
	uint32_t timeout_ms;
	bool timeout_given; /* --timeout: also bounds operations napd bounds itself */
};

/* Connects (once); on failure prints one line naming the socket and how to
 * start napd, and returns NAPC_EXIT_UNREACHABLE. */
int napc_connect(struct napc *n);
/* Maps a failed call to an exit code after printing "napc: <message>". */
int napc_fail(const struct napc *n, const nap_error *err, int r);

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

/* Output (show.c). */
json_t *napc_endpoints_json(Nap__Endpoint **eps, size_t n);
json_t *napc_status_json(const Nap__AppStatus *s);
void napc_print_json(json_t *j); /* and frees it */
void napc_print_endpoints(Nap__Endpoint **eps, size_t n);
void napc_print_status(const struct napc *n, const Nap__AppStatus *s);

#endif
