/* bus-bench: round trips through napd to a plugin and back, against a raw
 * Unix-socket ping-pong of the same payload, measured in the same run.
 *
 *   bus-bench --napd PATH --plugin ECHO.so [--seconds S] [--payload BYTES]
 *             [--clients N] [--workers W] [--layouts L,L,...]
 *
 * Prints "name: value" lines. "raw" is a one-process epoll echo server that
 * sends every byte straight back; "napd" is client -> napd -> plugin host ->
 * napd -> client, calling nap.Echo/Echo of the example plugin. With N
 * clients, W worker processes share N connections, each keeping one call in
 * flight.
 *
 * "relay" is the floor of any two-hop design: client -> a process that only
 * copies bytes (epoll, read, write; no framing, no routing) -> a raw echo
 * server -> back, placed as napd and its plugin host are. napd over relay is
 * what the protocol, routing and the plugin host cost; relay over raw is what
 * the second hop costs by itself.
 *
 * Each layout runs raw, relay and napd with their processes placed the same
 * way, and compares napd with its own raw baseline:
 *   unpinned     where the kernel puts them (varies from run to run: the raw
 *                ping-pong is 5x faster with both ends on one CPU)
 *   one_cpu      everything on one CPU
 *   alternating  clients on one CPU, napd (raw: the server) on another,
 *                the plugin host back on the first: every hop crosses CPUs
 * Figures are bus.LAYOUT.{raw,relay,napd}.N_client(s).* and
 * bus.LAYOUT.ratio.*. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nap/bus.h>
#include <nap/control.pb-c.h>
#include <nap/echo.pb-c.h>

#define MAX_SAMPLES 400000

static unsigned opt_seconds = 5, opt_payload = 64;
static char dir[256];

/* --- samples --- */

struct result {
	uint64_t calls;
	uint64_t failed;
	uint32_t nsamples;
	uint32_t samples[MAX_SAMPLES]; /* latency, ns */
};

static void record(struct result *r, uint64_t ns)
{
	r->calls++;
	if (r->nsamples < MAX_SAMPLES)
		r->samples[r->nsamples++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* --- CPU placement --- */

/* The CPUs of a layout: A for clients (and the plugin host), B for napd or
 * the raw server; -1 = not pinned. */
struct layout {
	const char *name;
	int a, b;
};

static void pin(pid_t pid, int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(pid, sizeof(set), &set) < 0) {
		perror("bus-bench: sched_setaffinity");
		exit(1);
	}
}

/* Every thread of process pid, the ones it has now (new ones inherit). */
static void pin_process(pid_t pid, int cpu)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d) {
		pin(pid, cpu);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			pin((pid_t)atoi(e->d_name), cpu);
	closedir(d);
}

/* The first two CPUs this process may run on (the same one twice if it has
 * only one). */
static void two_cpus(int *a, int *b)
{
	cpu_set_t set;
	*a = *b = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (*a < 0)
			*a = i;
		else if (*b < 0)
			*b = i;
	}
	if (*b < 0)
		*b = *a;
}

/* --- raw echo server --- */

/* A listening socket at path, in a new epoll set; returns the set. */
static int listen_epoll(const char *path, int *lfdp)
{
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 256) < 0)
		_exit(1);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	*lfdp = lfd;
	return ep;
}

static void raw_server(const char *path)
{
	int lfd, ep = listen_epoll(path, &lfd);
	static char buf[65536];
	for (;;) {
		struct epoll_event evs[128];
		int n = epoll_wait(ep, evs, 128, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);
				struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fd);
				continue;
			}
			(void)!write(fd, buf, (size_t)r);
		}
	}
}

/* --- relay: copies bytes between each client and a connection of its own
 * to an upstream echo server --- */

static int unix_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 250; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		usleep(20000);
	}
	_exit(1);
}

static void relay_server(const char *path, const char *upstream)
{
	enum {
		MAX_FD = 16384
	};
	static int peer[MAX_FD];
	int lfd, ep = listen_epoll(path, &lfd);
	static char buf[65536];
	for (;;) {
		struct epoll_event evs[128];
		int n = epoll_wait(ep, evs, 128, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);
				int u = unix_connect(upstream);
				if (c < 0 || c >= MAX_FD || u >= MAX_FD)
					_exit(1);
				peer[c] = u;
				peer[u] = c;
				struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
				struct epoll_event uev = {.events = EPOLLIN, .data.fd = u};
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				epoll_ctl(ep, EPOLL_CTL_ADD, u, &uev);
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(peer[fd]);
				close(fd);
				continue;
			}
			(void)!write(peer[fd], buf, (size_t)r);
		}
	}
}

/* --- clients --- */

struct raw_client {
	int fd;
	size_t got;
	uint64_t sent_at;
};

static void raw_worker(const char *path, unsigned conns, struct result *res)
{
	struct raw_client *cl = calloc(conns, sizeof(*cl));
	struct pollfd *pf = calloc(conns, sizeof(*pf));
	size_t msg = 4 + opt_payload;
	char *out = calloc(1, msg), *in = malloc(msg);
	out[3] = (char)opt_payload;
	for (unsigned i = 0; i < conns; i++) {
		cl[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		if (connect(cl[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(1);
		pf[i] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
		cl[i].sent_at = now_ns();
		(void)!write(cl[i].fd, out, msg);
	}
	uint64_t end = now_ns() + (uint64_t)opt_seconds * 1000000000u;
	while (now_ns() < end) {
		if (poll(pf, conns, 100) <= 0)
			continue;
		for (unsigned i = 0; i < conns; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			ssize_t r = read(cl[i].fd, in, msg - cl[i].got);
			if (r <= 0)
				_exit(1);
			cl[i].got += (size_t)r;
			if (cl[i].got < msg)
				continue;
			uint64_t t = now_ns();
			record(res, t - cl[i].sent_at);
			cl[i].got = 0;
			cl[i].sent_at = t;
			(void)!write(cl[i].fd, out, msg);
		}
	}
}

struct nap_client {
	nap_conn *conn;
	uint64_t sent_at;
	struct result *res;
	uint8_t *payload;
};

static void start_echo(struct nap_client *c);

static void echo_done(nap_call *call, const nap_reply *r, void *ud)
{
	(void)call;
	struct nap_client *c = ud;
	if (!r->end)
		return;
	if (r->status != NAP_OK)
		c->res->failed++;
	else
		record(c->res, now_ns() - c->sent_at);
	start_echo(c);
}

static void start_echo(struct nap_client *c)
{
	Nap__EchoMessage m = NAP__ECHO_MESSAGE__INIT;
	m.payload.data = c->payload;
	m.payload.len = opt_payload;
	c->sent_at = now_ns();
	if (nap_call_start(NULL, c->conn, "nap.Echo", 0, &m.base, 5000, echo_done, c) < 0)
		c->res->failed++;
}

static void napd_worker(const char *sock, unsigned conns, struct result *res)
{
	struct nap_client *cl = calloc(conns, sizeof(*cl));
	struct pollfd *pf = calloc(conns, sizeof(*pf));
	uint8_t *payload = calloc(1, opt_payload);
	for (unsigned i = 0; i < conns; i++) {
		if (nap_conn_connect(&cl[i].conn, sock, "bus-bench") < 0)
			_exit(1);
		cl[i].res = res;
		cl[i].payload = payload;
	}
	/* Calls start only now: the measured window excludes connecting. */
	uint64_t end = now_ns() + (uint64_t)opt_seconds * 1000000000u;
	for (unsigned i = 0; i < conns; i++) {
		start_echo(&cl[i]);
		nap_conn_flush(cl[i].conn);
	}
	while (now_ns() < end) {
		for (unsigned i = 0; i < conns; i++)
			pf[i] = (struct pollfd){.fd = nap_conn_get_fd(cl[i].conn),
						.events = nap_conn_get_events(cl[i].conn)};
		if (poll(pf, conns, 100) <= 0)
			continue;
		for (unsigned i = 0; i < conns; i++)
			if (pf[i].revents)
				nap_conn_process(cl[i].conn);
	}
}

/* Runs `clients` connections over `workers` processes; merges the results. */
static void run(const char *path, bool napd, unsigned clients, unsigned workers, int cpu,
		struct result *total)
{
	if (workers > clients)
		workers = clients;
	int fds[64][2];
	pid_t pids[64];
	for (unsigned w = 0; w < workers; w++) {
		pipe(fds[w]);
		pids[w] = fork();
		if (pids[w] == 0) {
			close(fds[w][0]);
			pin(0, cpu);
			struct result *r = calloc(1, sizeof(*r));
			unsigned conns = clients / workers + (w < clients % workers);
			if (napd)
				napd_worker(path, conns, r);
			else
				raw_worker(path, conns, r);
			size_t len = offsetof(struct result, samples) +
				     r->nsamples * sizeof(uint32_t);
			const char *p = (const char *)r;
			while (len > 0) {
				ssize_t n = write(fds[w][1], p, len);
				if (n <= 0)
					break;
				p += n;
				len -= (size_t)n;
			}
			_exit(0);
		}
		close(fds[w][1]);
	}
	memset(total, 0, offsetof(struct result, samples));
	for (unsigned w = 0; w < workers; w++) {
		struct result *r = calloc(1, sizeof(*r));
		char *p = (char *)r;
		ssize_t n;
		size_t have = 0;
		while ((n = read(fds[w][0], p + have, sizeof(*r) - have)) > 0)
			have += (size_t)n;
		close(fds[w][0]);
		waitpid(pids[w], NULL, 0);
		total->calls += r->calls;
		total->failed += r->failed;
		for (uint32_t i = 0; i < r->nsamples && total->nsamples < MAX_SAMPLES; i++)
			total->samples[total->nsamples++] = r->samples[i];
		free(r);
	}
	qsort(total->samples, total->nsamples, sizeof(uint32_t), cmp_u32);
}

static double pct(const struct result *r, double p)
{
	if (!r->nsamples)
		return 0;
	size_t i = (size_t)(p * (r->nsamples - 1));
	return r->samples[i] / 1000.0;
}

static void print(const char *name, const struct result *r)
{
	printf("%s.round_trips_per_s: %.0f\n", name, (double)r->calls / opt_seconds);
	printf("%s.p50_us: %.1f\n", name, pct(r, 0.50));
	printf("%s.p99_us: %.1f\n", name, pct(r, 0.99));
	if (r->failed)
		printf("%s.failed: %llu\n", name, (unsigned long long)r->failed);
	fflush(stdout);
}

/* --- napd --- */

static pid_t start_napd(const char *napd, const char *plugin, const char *sock,
			const struct layout *lay)
{
	char conf[300];
	snprintf(conf, sizeof(conf), "%s/napd.conf", dir);
	FILE *f = fopen(conf, "w");
	fprintf(f, "plugins = %s\n", plugin);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		pin(0, lay->b);
		execl(napd, "napd", "--foreground", "--config", conf, "--socket", sock,
		      "--log-level", "warning", (char *)NULL);
		_exit(127);
	}
	/* Wait until the echo plugin runs. */
	for (int i = 0; i < 500; i++) {
		usleep(20000);
		nap_conn *c;
		if (nap_conn_connect(&c, sock, "bus-bench") < 0)
			continue;
		Nap__ListPluginsRequest req = NAP__LIST_PLUGINS_REQUEST__INIT;
		Nap__ListPluginsReply *rep;
		bool up = false;
		if (nap_call_unary((ProtobufCMessage **)&rep, c, "nap.Control", 1, &req.base,
				   &nap__list_plugins_reply__descriptor, 2000, NULL) == 0) {
			up = rep->n_plugins == 1 && strcmp(rep->plugins[0]->state, "running") == 0;
			if (up)
				pin_process(rep->plugins[0]->pid, lay->a);
			nap__list_plugins_reply__free_unpacked(rep, NULL);
		}
		nap_conn_free(c);
		if (up)
			return pid;
	}
	fprintf(stderr, "bus-bench: napd did not start the plugin\n");
	kill(pid, SIGTERM);
	exit(1);
}

/* One "bus.LAYOUT.ratio.N.WHAT: value" line. */
static void ratio(const char *layout, const char *n, const char *what, double num, double den)
{
	printf("bus.%s.ratio.%s.%s: %.2f\n", layout, n, what, num / (den > 0 ? den : 1));
}

/* napd against raw, and the relay against both. */
static void ratios(const char *layout, const char *n, const struct result *raw,
		   const struct result *relay, const struct result *nd, bool latency)
{
	if (latency) {
		ratio(layout, n, "latency_p50_napd_over_raw", pct(nd, .5), pct(raw, .5));
		ratio(layout, n, "latency_p99_napd_over_raw", pct(nd, .99), pct(raw, .99));
		ratio(layout, n, "latency_p50_relay_over_raw", pct(relay, .5), pct(raw, .5));
		ratio(layout, n, "latency_p50_napd_over_relay", pct(nd, .5), pct(relay, .5));
		ratio(layout, n, "latency_p99_relay_over_raw", pct(relay, .99), pct(raw, .99));
	}
	ratio(layout, n, "throughput_raw_over_napd", (double)raw->calls, (double)nd->calls);
	ratio(layout, n, "throughput_relay_over_napd", (double)relay->calls, (double)nd->calls);
}

/* One series of a layout, run and printed as bus.LAYOUT.WHO.N.* */
static void measure(const struct layout *lay, const char *who, const char *path, bool napd,
		    unsigned clients, unsigned workers, const char *n, struct result *r)
{
	char name[96];
	run(path, napd, clients, workers, lay->a, r);
	snprintf(name, sizeof(name), "bus.%s.%s.%s", lay->name, who, n);
	print(name, r);
}

static pid_t fork_server(int cpu, const char *path, const char *upstream)
{
	pid_t pid = fork();
	if (pid == 0) {
		pin(0, cpu);
		if (upstream)
			relay_server(path, upstream);
		else
			raw_server(path);
	}
	return pid;
}

/* A raw server, a relay and a napd of their own for each layout, placed as
 * it says: the relay where napd runs, its upstream where the plugin host
 * runs. */
static void run_layout(const struct layout *lay, const char *napd, const char *plugin,
		       unsigned clients, unsigned workers, const char *raw_sock,
		       const char *napd_sock)
{
	char relay_sock[300], up_sock[300];
	snprintf(relay_sock, sizeof(relay_sock), "%s/relay.sock", dir);
	snprintf(up_sock, sizeof(up_sock), "%s/upstream.sock", dir);
	pid_t raw = fork_server(lay->b, raw_sock, NULL);
	pid_t up = fork_server(lay->a, up_sock, NULL);
	pid_t relay = fork_server(lay->b, relay_sock, up_sock);
	pid_t nd = start_napd(napd, plugin, napd_sock, lay);
	usleep(100000);

	printf("bus.%s.cpus: %d,%d\n", lay->name, lay->a, lay->b);
	/* 1 client, then `clients` over `workers` processes */
	static struct result raw_r[2], napd_r[2], relay_r[2];
	for (int k = 0; k < 2; k++) {
		unsigned nc = k ? clients : 1, nw = k ? workers : 1;
		char n[32];
		snprintf(n, sizeof(n), k ? "%u_clients" : "1_client", nc);
		measure(lay, "raw", raw_sock, false, nc, nw, n, &raw_r[k]);
		measure(lay, "napd", napd_sock, true, nc, nw, n, &napd_r[k]);
		measure(lay, "relay", relay_sock, false, nc, nw, n, &relay_r[k]);
		ratios(lay->name, n, &raw_r[k], &relay_r[k], &napd_r[k], k == 0);
	}

	pid_t all[] = {raw, up, relay, nd};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		kill(all[i], SIGTERM);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		waitpid(all[i], NULL, 0);
}

int main(int argc, char **argv)
{
	const char *napd = NULL, *plugin = NULL, *which = "unpinned,one_cpu,alternating";
	unsigned clients = 64, workers = 2;
	static const struct option lo[] = {
		{"napd", 1, 0, 'n'},    {"plugin", 1, 0, 'p'},  {"seconds", 1, 0, 's'},
		{"payload", 1, 0, 'b'}, {"clients", 1, 0, 'c'}, {"workers", 1, 0, 'w'},
		{"layouts", 1, 0, 'l'}, {0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'n':
			napd = optarg;
			break;
		case 'p':
			plugin = optarg;
			break;
		case 's':
			opt_seconds = (unsigned)atoi(optarg);
			break;
		case 'b':
			opt_payload = (unsigned)atoi(optarg);
			break;
		case 'c':
			clients = (unsigned)atoi(optarg);
			break;
		case 'w':
			workers = (unsigned)atoi(optarg);
			break;
		case 'l':
			which = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!napd || !plugin || opt_payload > 65000 || clients == 0 || clients > 4096 ||
	    workers == 0 || workers > 64) {
		fprintf(stderr,
			"usage: bus-bench --napd PATH --plugin ECHO.so [--seconds S] "
			"[--payload BYTES] [--clients N] [--workers W] [--layouts L,...]\n");
		return 2;
	}
	int ca, cb;
	two_cpus(&ca, &cb);
	const struct layout all[] = {
		{"unpinned", -1, -1},
		{"one_cpu", ca, ca},
		{"alternating", ca, cb},
	};
	struct layout layouts[3];
	size_t nlayouts = 0;
	char list[128];
	snprintf(list, sizeof(list), "%s", which);
	for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < 3 && strcmp(all[i].name, t) != 0)
			i++;
		if (i == 3 || nlayouts == 3) {
			fprintf(stderr, "bus-bench: layouts are unpinned, one_cpu, alternating\n");
			return 2;
		}
		layouts[nlayouts++] = all[i];
	}
	snprintf(dir, sizeof(dir), "/tmp/nap-bench.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	char raw_sock[300], napd_sock[300];
	snprintf(raw_sock, sizeof(raw_sock), "%s/raw.sock", dir);
	snprintf(napd_sock, sizeof(napd_sock), "%s/napd.sock", dir);

	printf("bus.payload_bytes: %u\nbus.seconds_per_run: %u\n", opt_payload, opt_seconds);
	for (size_t i = 0; i < nlayouts; i++)
		run_layout(&layouts[i], napd, plugin, clients, workers, raw_sock, napd_sock);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	return 0;
}
