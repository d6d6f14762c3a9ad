/* napd: the nap daemon. main() reads as the list of napd's parts: each is
 * started in order and stopped in reverse. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nap/bus.h>

#include "conffile.h"
#include "control.h"
#include "host.h"
#include "listener.h"
#include "identity.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "router.h"
#include "supervisor.h"

#define DEFAULT_CONFIG NAP_SYSCONF_DIR "/napd.conf"
#define STOP_TIMEOUT_MS 5000u

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: napd [OPTION]...\n"
		"The nap daemon: routes calls between clients and plugins over a Unix socket.\n"
		"\n"
		"  -s, --socket PATH      listen on PATH (default: $NAP_SOCKET, else %s)\n"
		"  -c, --config FILE      read FILE (default: %s, if it exists)\n"
		"  -f, --foreground       stay in the foreground and log to stderr\n"
		"  -l, --log-level LEVEL  error, warning, notice (default), info or debug\n"
		"  -p, --plugin-dir DIR   look for plugins in DIR (default: %s)\n"
		"      --pidfile FILE     write napd's pid to FILE\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\n"
		"Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on an error at start-up,\n"
		"2 on a usage error. See napd(8) and napd.conf(5).\n",
		NAP_DEFAULT_SOCKET, DEFAULT_CONFIG, NAP_PLUGIN_DIR);
}

struct options {
	const char *socket;
	const char *config;
	const char *plugin_dir;
	const char *pidfile;
	bool foreground;
	int log_level;
};

static int parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"log-level", required_argument, NULL, 'l'},
		{"plugin-dir", required_argument, NULL, 'p'},
		{"pidfile", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct options){.log_level = -1};
	int c;
	while ((c = getopt_long(argc, argv, "s:c:fl:p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'l':
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "napd: --log-level must be error, warning, notice, "
						"info or debug\n");
				return 2;
			}
			break;
		case 'p':
			o->plugin_dir = optarg;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("napd %s (protocol %d.%d, plugin ABI %u)\n", PACKAGE_VERSION,
			       NAP_PROTOCOL_MAJOR, NAP_PROTOCOL_MINOR, NAP_PLUGIN_ABI);
			exit(0);
		default:
			fprintf(stderr, "Try 'napd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "napd: unexpected argument '%s'; try 'napd --help'\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* --- signals --- */

static struct loop_io signal_io = {.fd = -1};

static void on_signal(void *ud, uint32_t events)
{
	(void)ud;
	(void)events;
	struct signalfd_siginfo si;
	while (read(signal_io.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_notice("%s received, stopping", strsignal((int)si.ssi_signo));
			loop_quit();
			break;
		case SIGCHLD:
			supervisor_reap();
			break;
		case SIGHUP:
			log_notice("SIGHUP: napd does not reload its configuration; restart it");
			break;
		}
	}
}

static int signals_setup(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	signal_io = (struct loop_io){.fd = fd, .fn = on_signal};
	return loop_add(&signal_io);
}

static void signals_finish(void)
{
	if (signal_io.fd < 0)
		return;
	loop_del(&signal_io);
	close(signal_io.fd);
	signal_io.fd = -1;
}

/* --- background and readiness --- */

/* Forks into the background; the parent exits once the child says it is
 * ready (or failed), so that "napd && napc ping" works. */
static int daemonize(int *ready_fd)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		char msg[1100] = {1};
		ssize_t n = read(pfd[0], msg, sizeof(msg) - 1);
		if (n >= 1 && msg[0] == 0)
			_exit(0);
		/* The child's reason, on the terminal the operator ran napd from. */
		if (n > 1) {
			msg[n] = '\0';
			fprintf(stderr, "napd: %s\n", msg + 1);
		} else {
			fprintf(stderr, "napd: failed to start; see the system log\n");
		}
		_exit(1);
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	*ready_fd = pfd[1];
	return 0;
}

/* Tells systemd (Type=notify) that napd is ready, when it runs under it. */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	close(fd);
}

static void write_pidfile(const char *path)
{
	FILE *f = fopen(path, "we");
	if (!f) {
		log_warning("cannot write pid file %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

static int startup_failed(int ready_fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int startup_failed(int ready_fd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (ready_fd >= 0) {
		char buf[1100];
		int n = snprintf(buf, sizeof(buf), "%c%s", 1, msg);
		(void)!write(ready_fd, buf,
			     (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	}
	return -1;
}

/* Starts napd's parts in order: the loop, its signals, the listening
 * socket, napd's own service, the plugins. On failure it says why, to the
 * log and to the parent waiting on ready_fd, and returns -1: finish() stops
 * what started. */
static int start(const struct napd_config *cfg, const char *socket_path, int ready_fd)
{
	uint64_t started = nap_now_usec();
	char err[1024];
	int r;
	if ((r = loop_init()) < 0)
		return startup_failed(ready_fd, "epoll: %s", strerror(-r));
	if ((r = signals_setup()) < 0)
		return startup_failed(ready_fd, "signals: %s", strerror(-r));
	if (listener_open(socket_path, cfg, err, sizeof(err)) < 0)
		return startup_failed(ready_fd, "%s", err);
	if ((r = control_init(started)) < 0)
		return startup_failed(ready_fd, "nap.Control: %s", strerror(-r));
	loop_set_idle(peers_idle, peers_next_deadline);
	if ((r = supervisor_start(cfg)) < 0)
		return startup_failed(ready_fd, "plugins: %s", strerror(-r));
	return 0;
}

/* Stops napd's parts in the reverse order of main()'s start-up. Each
 * *_finish, *_close or *_stop undoes its start and does nothing when that
 * did not run, so that a failed start-up stops here too. In-flight calls
 * end here: the plugin hosts' connections go first, which ends every call
 * passed on to them, then the clients'. */
static void finish(struct napd_config *cfg, const char *pidfile)
{
	/* The one part stopped out of turn: the socket goes first, so that a
	 * client that connects while the plugins stop (up to STOP_TIMEOUT_MS)
	 * is refused at once instead of waiting in the backlog. */
	listener_close();
	supervisor_stop(STOP_TIMEOUT_MS);
	peers_close_all();
	peers_finish();
	control_finish();
	router_finish();
	if (pidfile)
		unlink(pidfile);
	signals_finish();
	loop_done();
	config_free(cfg);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--plugin-host") == 0)
		return host_main(argc, argv);

	struct options opt;
	int r = parse_options(&opt, argc, argv);
	if (r)
		return r;

	struct napd_config cfg;
	char err[1024];
	config_init(&cfg);
	if (config_load(&cfg, opt.config ? opt.config : DEFAULT_CONFIG, opt.config != NULL, err,
			sizeof(err)) < 0) {
		fprintf(stderr, "napd: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	if (opt.plugin_dir) {
		free(cfg.plugin_dir);
		cfg.plugin_dir = strdup(opt.plugin_dir);
	}
	if (opt.log_level >= 0)
		cfg.log_level = opt.log_level;
	if (config_resolve_plugins(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "napd: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	const char *socket_path = opt.socket ? opt.socket : nap_socket_path(cfg.socket);
	identity_init(socket_path);

	int ready_fd = -1;
	if (!opt.foreground && daemonize(&ready_fd) < 0) {
		fprintf(stderr, "napd: cannot go to the background: %s\n", strerror(errno));
		config_free(&cfg);
		return 1;
	}
	log_setup("napd", cfg.log_level >= 0 ? cfg.log_level : NAP_LOG_NOTICE, !opt.foreground);

	int st = start(&cfg, socket_path, ready_fd) < 0 ? 1 : 0;
	if (st == 0) {
		if (opt.pidfile)
			write_pidfile(opt.pidfile);
		log_notice("napd %s listening on %s (%zu plugin%s)", PACKAGE_VERSION, socket_path,
			   cfg.nplugins, cfg.nplugins == 1 ? "" : "s");
		notify_systemd("READY=1");
		if (ready_fd >= 0) {
			char c = 0;
			(void)!write(ready_fd, &c, 1);
		}
		st = loop_run() < 0 ? 1 : 0;
		notify_systemd("STOPPING=1");
	}
	if (ready_fd >= 0)
		close(ready_fd);

	finish(&cfg, st == 0 ? opt.pidfile : NULL);
	log_notice("napd stopped");
	log_finish();
	return st;
}
