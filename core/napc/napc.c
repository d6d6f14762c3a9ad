/* napc: the nap command-line client. Each command is a function that makes
 * its calls through libnap and prints plain lines, or JSON with --json. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>

#include "napc.h"

#define DEFAULT_TIMEOUT_MS 10000u

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: napc [--host URL | --socket PATH] [--json] [--timeout SECONDS] COMMAND [ARG]...\n"
		"Talk to napd, the nap daemon.\n"
		"\n"
		"Commands:\n"
		"  deploy APP [DIR] [--instances N] [--memory SIZE] [--env K=V]...\n"
		"         [--check-http PATH] [--ready-timeout SECONDS] [--scheduler PLUGIN]\n"
		"         [--constraint EXPR]...\n"
		"                  build DIR's Dockerfile (default .) and run it; prints the endpoints\n"
		"                  once every instance is ready (its port answers, or PATH 2xx/3xx)\n"
		"  ls              list the apps\n"
		"  status APP      an app's state, each instance's, releases, env keys, endpoints\n"
		"  endpoints APP [--watch]\n"
		"                  the app's endpoints; --watch prints them again on every change\n"
		"  scale APP N     run N instances\n"
		"  env APP [K=V]... [--unset K]...\n"
		"                  show or change the environment (a change makes a new release)\n"
		"  rollback APP [RELEASE]\n"
		"                  run an earlier release again (default: the one before)\n"
		"  logs APP [--follow]\n"
		"                  the instances' output\n"
		"  stop APP        stop every instance (the app is kept)\n"
		"  start APP       start a stopped app again\n"
		"  destroy APP     stop the app and forget it: instances, images, records\n"
		"  check APP [--http PATH | --tcp] [--interval MS] [--failures N]\n"
		"        [--ready-timeout SECONDS]\n"
		"                  show or change when an instance is ready and when unhealthy\n"
		"  export          every app's desired state as one JSON document (a backup)\n"
		"  import [--force] [FILE|-]\n"
		"                  restore apps from an export (--force replaces existing ones)\n"
		"  ping            check that napd answers; prints its version and round trip\n"
		"  plugins         list napd's plugins, their state and services\n"
		"  dial-stdio [--socket PATH]\n"
		"                  copy stdin/stdout to napd's socket: the bridge napc --host\n"
		"                  ssh://... runs on the server\n"
		"  help            show this help\n"
		"\n"
		"Options:\n"
		"  -H, --host URL        napd through ssh: ssh://[USER@]HOST[:PORT][/SOCKET]\n"
		"                        (napc must be installed there); unix:///PATH or a\n"
		"                        path: a local socket, as --socket (default: $NAP_HOST)\n"
		"  -s, --socket PATH     napd's socket (default: $NAP_SOCKET, else %s)\n"
		"  -j, --json            print JSON for scripts\n"
		"  -t, --timeout SECONDS give up after SECONDS (default: %u for lookups;\n"
		"                        deploy, scale, env, rollback, stop, start and\n"
		"                        destroy wait as long as napd's deploy_timeout)\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show napc's version\n"
		"\n"
		"Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
		"3 napd cannot be reached. See napc(1).\n",
		NAP_DEFAULT_SOCKET, DEFAULT_TIMEOUT_MS / 1000u);
}

const char *napc_where(const struct napc *n)
{
	return n->host.ssh ? n->host.url : nap_socket_path(n->socket);
}

void napc_print_connect_error(const char *path, int r)
{
	if (r == -ENOENT || r == -ECONNREFUSED)
		fprintf(stderr,
			"napc: napd is not running on %s (%s); start it with 'napd' "
			"(or 'systemctl start napd'), or point --socket/NAP_SOCKET at it\n",
			path, nap_strerror(r));
	else if (r == -EACCES)
		fprintf(stderr,
			"napc: no permission to open %s; its mode and group are napd.conf's "
			"socket_mode and socket_group: ask the operator for access, or run as root\n",
			path);
	else
		fprintf(stderr, "napc: cannot connect to napd on %s: %s\n", path, nap_strerror(r));
}

int napc_connect(struct napc *n)
{
	if (n->conn)
		return 0;
	if (n->host.ssh)
		return napc_ssh_connect(n);
	int r = nap_conn_connect(&n->conn, n->socket, "napc");
	if (r == 0)
		return 0;
	napc_print_connect_error(nap_socket_path(n->socket), r);
	return NAPC_EXIT_UNREACHABLE;
}

int napc_fail(struct napc *n, const nap_error *err, int r)
{
	/* Over ssh a lost connection may be ssh's or the bridge's doing: that
	 * hop is named rather than napd. napd's own refusal is napd's. */
	if (n->ssh && n->conn && nap_conn_closed(n->conn) && err->status != NAP_PERMISSION_DENIED) {
		int d = napc_ssh_diagnose(n);
		if (d)
			return d;
	}
	if (r != -EPROTO) {
		/* The connection itself failed: napd went away or refused us. */
		if (err->status == NAP_PERMISSION_DENIED) {
			fprintf(stderr, "napc: %s\n", err->message);
			return NAPC_EXIT_UNREACHABLE;
		}
		fprintf(stderr, "napc: lost napd on %s: %s\n", napc_where(n),
			err->message[0] ? err->message : nap_strerror(r));
		return NAPC_EXIT_UNREACHABLE;
	}
	fprintf(stderr, "napc: %s (%s)\n", err->message, nap_status_name(err->status));
	if (err->status == NAP_INVALID_ARGUMENT)
		return NAPC_EXIT_USAGE;
	if (err->status == NAP_PERMISSION_DENIED)
		return NAPC_EXIT_UNREACHABLE;
	return NAPC_EXIT_FAILED;
}

/* Prints s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static int cmd_ping(struct napc *n, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "napc: ping takes no arguments\n");
		return NAPC_EXIT_USAGE;
	}
	int r = napc_connect(n);
	if (r)
		return r;
	Nap__PingRequest req = NAP__PING_REQUEST__INIT;
	Nap__PingReply *rep = NULL;
	nap_error err = {0};
	uint64_t t0 = nap_now_usec();
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control",
			   (uint32_t)nap_method_index(&nap__control__descriptor, "Ping"), &req.base,
			   &nap__ping_reply__descriptor, n->timeout_ms, &err);
	uint64_t us = nap_now_usec() - t0;
	if (r < 0)
		return napc_fail(n, &err, r);
	if (n->json) {
		printf("{\"ok\":true,\"version\":");
		json_str(rep->version);
		printf(",\"protocol\":\"%u.%u\",\"uptime_ms\":%llu,\"rtt_us\":%llu}\n",
		       rep->protocol_major, rep->protocol_minor, (unsigned long long)rep->uptime_ms,
		       (unsigned long long)us);
	} else {
		printf("napd %s on %s answered in %llu us (protocol %u.%u, up %llu s)\n",
		       rep->version, napc_where(n), (unsigned long long)us, rep->protocol_major,
		       rep->protocol_minor, (unsigned long long)(rep->uptime_ms / 1000));
	}
	nap__ping_reply__free_unpacked(rep, NULL);
	return NAPC_EXIT_OK;
}

static int cmd_plugins(struct napc *n, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "napc: plugins takes no arguments\n");
		return NAPC_EXIT_USAGE;
	}
	int r = napc_connect(n);
	if (r)
		return r;
	Nap__ListPluginsRequest req = NAP__LIST_PLUGINS_REQUEST__INIT;
	Nap__ListPluginsReply *rep = NULL;
	nap_error err = {0};
	r = nap_call_unary((ProtobufCMessage **)&rep, n->conn, "nap.Control",
			   (uint32_t)nap_method_index(&nap__control__descriptor, "ListPlugins"),
			   &req.base, &nap__list_plugins_reply__descriptor, n->timeout_ms, &err);
	if (r < 0)
		return napc_fail(n, &err, r);
	if (n->json) {
		printf("[");
		for (size_t i = 0; i < rep->n_plugins; i++) {
			const Nap__PluginInfo *p = rep->plugins[i];
			printf("%s{\"name\":", i ? "," : "");
			json_str(p->name);
			printf(",\"version\":");
			json_str(p->version);
			printf(",\"state\":");
			json_str(p->state);
			printf(",\"pid\":%d,\"restarts\":%u,\"abi\":%u,\"path\":", p->pid,
			       p->restarts, p->abi);
			json_str(p->path);
			printf(",\"last_error\":");
			json_str(p->last_error);
			printf(",\"services\":[");
			for (size_t j = 0; j < p->n_services; j++) {
				printf("%s", j ? "," : "");
				json_str(p->services[j]);
			}
			printf("]}");
		}
		printf("]\n");
	} else if (rep->n_plugins == 0) {
		printf("no plugins (add them to 'plugins =' in napd.conf)\n");
	} else {
		printf("%-18s %-10s %-11s %-7s %s\n", "PLUGIN", "VERSION", "STATE", "PID",
		       "SERVICES");
		for (size_t i = 0; i < rep->n_plugins; i++) {
			const Nap__PluginInfo *p = rep->plugins[i];
			printf("%-18s %-10s %-11s %-7d ", p->name, p->version[0] ? p->version : "-",
			       p->state, p->pid);
			for (size_t j = 0; j < p->n_services; j++)
				printf("%s%s", j ? "," : "", p->services[j]);
			printf("%s\n", p->n_services ? "" : "-");
			if (p->last_error[0] && strcmp(p->state, "running") != 0)
				printf("  %s\n", p->last_error);
		}
	}
	nap__list_plugins_reply__free_unpacked(rep, NULL);
	return NAPC_EXIT_OK;
}

static int cmd_help(struct napc *n, int argc, char **argv)
{
	(void)n;
	(void)argc;
	(void)argv;
	usage(stdout);
	return NAPC_EXIT_OK;
}

static const struct {
	const char *name;
	napc_cmd_fn fn;
} commands[] = {
	{"deploy", napc_cmd_deploy},
	{"ls", napc_cmd_ls},
	{"status", napc_cmd_status},
	{"endpoints", napc_cmd_endpoints},
	{"scale", napc_cmd_scale},
	{"env", napc_cmd_env},
	{"rollback", napc_cmd_rollback},
	{"logs", napc_cmd_logs},
	{"stop", napc_cmd_stop},
	{"start", napc_cmd_start},
	{"destroy", napc_cmd_destroy},
	{"check", napc_cmd_check},
	{"export", napc_cmd_export},
	{"import", napc_cmd_import},
	{"ping", cmd_ping},
	{"plugins", cmd_plugins},
	{"dial-stdio", napc_cmd_dial_stdio},
	{"help", cmd_help},
};

/* --host, else --socket, else $NAP_HOST, else $NAP_SOCKET (libnap). The
 * bridge (on_server) ignores NAP_HOST: a user's shell start-up there may set
 * it to point elsewhere, and the bridge only ever dials its own napd. */
static int pick_host(struct napc *n, const char *host, bool on_server)
{
	const char *source = "--host";
	if (host && n->socket) {
		fprintf(stderr, "napc: --host and --socket both name napd: give one\n");
		return NAPC_EXIT_USAGE;
	}
	if (!host && !n->socket && !on_server) {
		host = getenv("NAP_HOST");
		source = "NAP_HOST";
		if (!host || !*host)
			return 0;
	}
	if (!host)
		return 0;
	int r = napc_host_parse(&n->host, source, host);
	if (r == 0 && !n->host.ssh)
		n->socket = n->host.socket;
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"host", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	const char *host = NULL;
	struct napc n = {.timeout_ms = DEFAULT_TIMEOUT_MS};
	int c;
	/* "+": options end at the command, which has options of its own. */
	while ((c = getopt_long(argc, argv, "+s:H:jt:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			n.socket = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'j':
			n.json = true;
			break;
		case 't': {
			char *end;
			unsigned long s = strtoul(optarg, &end, 10);
			if (*end || s == 0 || s > 86400) {
				fprintf(stderr, "napc: --timeout is seconds, 1 to 86400\n");
				return NAPC_EXIT_USAGE;
			}
			n.timeout_ms = (uint32_t)s * 1000u;
			n.timeout_given = true;
			break;
		}
		case 'h':
			usage(stdout);
			return NAPC_EXIT_OK;
		case 'V':
			printf("napc %s (protocol %d.%d)\n", PACKAGE_VERSION, NAP_PROTOCOL_MAJOR,
			       NAP_PROTOCOL_MINOR);
			return NAPC_EXIT_OK;
		default:
			fprintf(stderr, "Try 'napc --help'.\n");
			return NAPC_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return NAPC_EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	int r = pick_host(&n, host, strcmp(cmd, "dial-stdio") == 0);
	if (r) {
		napc_host_clear(&n.host);
		return r;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			r = commands[i].fn(&n, argc - optind, argv + optind);
			napc_ssh_close(&n);
			napc_host_clear(&n.host);
			return r;
		}
	}
	napc_host_clear(&n.host);
	fprintf(stderr, "napc: unknown command '%s'; 'napc --help' lists the commands\n", cmd);
	return NAPC_EXIT_USAGE;
}
