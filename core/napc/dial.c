/* napc dial-stdio: the server's end of napc --host ssh://. It connects to
 * napd's socket as the user ssh logged in (so napd's SO_PEERCRED sees that
 * user) and copies bytes between the socket and its stdin/stdout until napd
 * closes. It never parses a frame: napd's HELLO, its answers and its
 * refusals travel as they are.
 *
 * Exit status: 0 when napd closed the connection (whatever napd had to say
 * went through in-band), 3 when napd's socket cannot be reached (one line on
 * stderr, which ssh carries to napc), 1 on an I/O error, 2 on a usage
 * error. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napc.h"

/* Bytes read at once in each direction. */
#define DIAL_CHUNK (64u * 1024u)

/* One direction of the copy. */
struct pipe_dir {
	int from, to;
	char buf[DIAL_CHUNK];
	size_t len, off;
	bool eof; /* `from` ended; once buf is drained, `to` is told */
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Reads into an empty buffer when `from` is ready (rin), or writes what it
 * holds when `to` is (rout); 0, or -errno. */
static int step(struct pipe_dir *d, short rin, short rout)
{
	if (d->len == 0 && !d->eof && (rin & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t r = read(d->from, d->buf, sizeof(d->buf));
		if (r < 0 && errno == ECONNRESET)
			r = 0; /* a reset comes after what was sent before it */
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r == 0)
			d->eof = true;
		d->len = (size_t)r;
		d->off = 0;
	} else if (d->len > 0 && (rout & (POLLOUT | POLLERR | POLLHUP))) {
		ssize_t w = write(d->to, d->buf + d->off, d->len - d->off);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		d->off += (size_t)w;
		if (d->off == d->len)
			d->len = d->off = 0;
	}
	return 0;
}

static short wanted(const struct pipe_dir *d, bool from_side)
{
	if (from_side)
		return d->len == 0 && !d->eof ? POLLIN : 0;
	return d->len > 0 ? POLLOUT : 0;
}

/* Copies until napd closes its side and everything it sent is out. */
static int copy_both_ways(int sock)
{
	static struct pipe_dir up, down; /* up: stdin -> napd; down: napd -> stdout */
	up = (struct pipe_dir){.from = 0, .to = sock};
	down = (struct pipe_dir){.from = sock, .to = 1};
	bool up_shut = false;
	for (;;) {
		if (up.eof && up.len == 0 && !up_shut) {
			/* napc hung up: napd sees EOF, ends the session, closes. */
			shutdown(sock, SHUT_WR);
			up_shut = true;
		}
		if (down.eof && down.len == 0)
			return 0;
		struct pollfd p[3] = {
			{.fd = 0, .events = wanted(&up, true)},
			{.fd = sock, .events = (short)(wanted(&down, true) | wanted(&up, false))},
			{.fd = 1, .events = wanted(&down, false)},
		};
		/* poll reports POLLHUP even unasked: leave out what is not
		 * waited for, or a closed stdin would spin the loop. */
		for (int i = 0; i < 3; i++)
			if (!p[i].events)
				p[i].fd = -1;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int r = step(&up, p[0].revents, p[1].revents);
		if (r == -EPIPE || r == -ECONNRESET) {
			/* napd closed first (a refusal): what it said before is
			 * still to be read and passed on; napc's bytes are not. */
			up.len = 0;
			up.eof = true;
			r = 0;
		}
		if (r == 0)
			r = step(&down, p[1].revents, p[2].revents);
		if (r == -EPIPE || r == -ECONNRESET)
			return 0; /* napc went away: nobody is left to tell */
		if (r < 0)
			return r;
	}
}

int napc_cmd_dial_stdio(struct napc *n, int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	const char *path = n->socket;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
		if (c != 's') {
			fprintf(stderr, "napc: dial-stdio takes only --socket PATH\n");
			return NAPC_EXIT_USAGE;
		}
		path = optarg;
	}
	if (optind != argc || n->host.ssh) {
		fprintf(stderr, "napc: dial-stdio takes only --socket PATH (it runs on the server, "
				"where napc --host ssh://... starts it)\n");
		return NAPC_EXIT_USAGE;
	}
	if (isatty(0) || isatty(1)) {
		fprintf(stderr, "napc: dial-stdio is a byte pipe for napc --host ssh://..., "
				"not for a terminal\n");
		return NAPC_EXIT_USAGE;
	}
	path = nap_socket_path(path);
	int sock = nap_socket_dial(path);
	if (sock < 0) {
		napc_print_connect_error(path, sock);
		return NAPC_EXIT_UNREACHABLE;
	}
	signal(SIGPIPE, SIG_IGN);
	if (set_nonblock(0) < 0 || set_nonblock(1) < 0 || set_nonblock(sock) < 0) {
		fprintf(stderr, "napc: dial-stdio: %s\n", strerror(errno));
		close(sock);
		return NAPC_EXIT_FAILED;
	}
	int r = copy_both_ways(sock);
	close(sock);
	if (r < 0) {
		fprintf(stderr, "napc: dial-stdio: %s\n", strerror(-r));
		return NAPC_EXIT_FAILED;
	}
	return NAPC_EXIT_OK;
}
