/* Test fixtures: the control channel of the fake plugins (see
 * fake-control.h). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fake-control.h"

/* A client that says nothing for this long is dropped. */
#define CONTROL_IDLE_MS 2000

struct fake_control {
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	fake_control_fn fn;
	void *ud;
	pthread_t thread;
	atomic_bool stop;
};

unsigned long long fake_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull +
	       (unsigned long long)ts.tv_nsec / 1000000ull;
}

void fake_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Runs one command line; returns 1 if the plugin must crash now. */
static int run_line(struct fake_control *c, int fd, char *line)
{
	char *argv[FAKE_CONTROL_ARGS_MAX + 1], *save = NULL, err[256] = "";
	int argc = 0;

	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (argc == FAKE_CONTROL_ARGS_MAX) {
			write_all(fd, "ERR too many words\n", 19);
			return 0;
		}
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "crash") == 0) {
		write_all(fd, "OK\n", 3);
		return 1;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out) {
		write_all(fd, "ERR out of memory\n", 18);
		return 0;
	}
	const char *why = NULL;
	if (!fake_faults_command(argc, argv, out, &why))
		why = c->fn ? c->fn(argc, argv, out, err, sizeof err, c->ud) : "unknown command";
	if (why)
		fprintf(out, "ERR %s\n", why);
	else
		fputs("OK\n", out);
	fclose(out);
	write_all(fd, buf, len);
	free(buf);
	return 0;
}

/* Serves one client until it closes; returns 1 if the plugin must crash. */
static int serve(struct fake_control *c, int fd)
{
	char line[FAKE_CONTROL_LINE_MAX + 1];
	size_t have = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, CONTROL_IDLE_MS) <= 0 || atomic_load(&c->stop))
			return 0;
		ssize_t n = recv(fd, line + have, sizeof line - 1 - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		have += (size_t)n;
		char *nl;
		while ((nl = memchr(line, '\n', have))) {
			*nl = '\0';
			size_t used = (size_t)(nl - line) + 1;
			if (run_line(c, fd, line))
				return 1;
			memmove(line, line + used, have - used);
			have -= used;
		}
		if (have == sizeof line - 1) {
			write_all(fd, "ERR line too long\n", 18);
			return 0;
		}
	}
}

static void *control_main(void *arg)
{
	struct fake_control *c = arg;

	while (!atomic_load(&c->stop)) {
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept(c->fd, NULL, NULL);
		if (fd < 0)
			continue;
		int crash = serve(c, fd);
		close(fd);
		if (crash) {
			/* As if the machine died: no clean-up at all. */
			abort();
		}
	}
	return NULL;
}

int fake_control_start(struct fake_control **cp, const char *name, const char *path,
		       fake_control_fn fn, void *ud)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fake_control *c;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	if (!(c = calloc(1, sizeof *c)))
		return -ENOMEM;
	snprintf(c->name, sizeof c->name, "%s", name);
	snprintf(c->path, sizeof c->path, "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fn = fn;
	c->ud = ud;
	atomic_init(&c->stop, false);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		int e = -errno;
		free(c);
		return e;
	}
	unlink(path); /* left by a crashed run */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(c->fd, 8) < 0) {
		int e = -errno;
		close(c->fd);
		free(c);
		return e;
	}
	int r = pthread_create(&c->thread, NULL, control_main, c);
	if (r) {
		close(c->fd);
		unlink(path);
		free(c);
		return -r;
	}
	*cp = c;
	return 0;
}

void fake_control_stop(struct fake_control *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	close(c->fd);
	unlink(c->path);
	free(c);
}
