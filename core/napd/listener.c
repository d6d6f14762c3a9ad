#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nap/frame.h>

#include "listener.h"
#include "log.h"
#include "peer.h"
#include "router.h"

/* While out of file descriptors napd stops listening this long, when it has
 * no spare descriptor to refuse connections with. */
#define ACCEPT_PAUSE_US (100u * 1000u)

static struct {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct napd_config *cfg;
	struct loop_io io;
	/* A descriptor kept in reserve: at the fd limit napd closes it to
	 * accept one connection, says why on it, and closes it again. */
	int spare;
	struct loop_timer resume; /* armed while the listener is paused */
	bool full;                /* out of descriptors since the line below */
	unsigned long refused;    /* connections refused while full */
} S = {.fd = -1, .spare = -1};

static void spare_open(void)
{
	if (S.spare < 0)
		S.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Refuses one pending connection through the spare descriptor: 1 if it did,
 * 0 if none was pending (accept() fails with EMFILE whether or not one is),
 * -1 without a spare (napd then pauses the listener). */
static int refuse_one(void)
{
	if (S.spare < 0)
		return -1;
	close(S.spare);
	S.spare = -1;
	int fd = accept4(S.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0) {
		/* napd's HELLO, then END call id 0: small enough for the socket
		 * buffer of a new connection, so it never blocks. */
		uint8_t buf[512];
		Nap__Bus__Hello h = NAP__BUS__HELLO__INIT;
		h.protocol_major = NAP_PROTOCOL_MAJOR;
		h.protocol_minor = NAP_PROTOCOL_MINOR;
		h.peer_name = (char *)"napd";
		h.peer_version = (char *)PACKAGE_VERSION;
		Nap__Bus__Frame f = NAP__BUS__FRAME__INIT;
		f.kind = NAP__BUS__KIND__HELLO;
		size_t n = nap_frame_pack(&f, &h.base, buf);
		Nap__Bus__Frame end = NAP__BUS__FRAME__INIT;
		end.kind = NAP__BUS__KIND__END;
		end.status = NAP__BUS__STATUS__RESOURCE_EXHAUSTED;
		end.message = (char *)"napd has no file descriptor left for a new connection "
				      "(its limit, ulimit -n, is reached): try again later";
		n += nap_frame_pack(&end, NULL, buf + n);
		(void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		S.refused++;
	}
	int err = errno;
	spare_open();
	if (fd >= 0)
		return 1;
	return err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED ? 0 : -1;
}

static void on_resume(void *ud)
{
	(void)ud;
	loop_mod(&S.io, EPOLLIN);
}

/* accept() failed for lack of descriptors: one line when it starts (and one
 * when it ends, with the count); never a line per connection. */
static void out_of_fds(int err)
{
	if (!S.full) {
		struct rlimit rl = {0};
		getrlimit(RLIMIT_NOFILE, &rl);
		log_warning("accept on %s: %s (limit %llu, %zu connections): refusing new "
			    "connections until some close",
			    S.path, strerror(err), (unsigned long long)rl.rlim_cur, peers_count());
		S.full = true;
		S.refused = 0;
	}
}

static void fds_back(void)
{
	if (!S.full)
		return;
	log_notice("accepting connections on %s again; %lu refused while out of file "
		   "descriptors",
		   S.path, S.refused);
	S.full = false;
	spare_open();
}

static bool uid_in_groups(uid_t uid, gid_t gid, const gid_t *allowed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (allowed[i] == gid)
			return true;
	if (n == 0)
		return false;
	/* SO_PEERCRED carries the primary group only: look the user's other
	 * groups up. */
	struct passwd *pw = getpwuid(uid);
	if (!pw)
		return false;
	gid_t groups[256];
	int ng = 256;
	if (getgrouplist(pw->pw_name, gid, groups, &ng) < 0)
		return false;
	for (int g = 0; g < ng; g++)
		for (size_t i = 0; i < n; i++)
			if (allowed[i] == groups[g])
				return true;
	return false;
}

static bool allowed(const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	for (size_t i = 0; i < S.cfg->nallow_uids; i++)
		if (S.cfg->allow_uids[i] == cr->uid)
			return true;
	return uid_in_groups(cr->uid, cr->gid, S.cfg->allow_gids, S.cfg->nallow_gids);
}

static void client_gone(struct peer *p, int status, const char *why)
{
	(void)status;
	(void)why;
	router_peer_gone(p);
}

static void on_accept(void *ud, uint32_t events)
{
	(void)ud;
	(void)events;
	for (;;) {
		int fd = accept4(S.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			int err = errno;
			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
				out_of_fds(err);
				int r = refuse_one();
				if (r > 0)
					continue;
				if (r == 0)
					return;
				/* No spare: stop listening for a while rather than
				 * wake up for the same connection again and again. */
				loop_mod(&S.io, 0);
				loop_timer_arm(&S.resume, ACCEPT_PAUSE_US);
				return;
			}
			if (err != EAGAIN && err != EWOULDBLOCK)
				log_warning("accept on %s: %s", S.path, strerror(err));
			return;
		}
		fds_back();
		struct ucred cr;
		socklen_t len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
			log_warning("cannot read the credentials of a new connection: %s",
				    strerror(errno));
			close(fd);
			continue;
		}
		char name[64];
		snprintf(name, sizeof(name), "client pid %d uid %u", (int)cr.pid, (unsigned)cr.uid);
		static const struct peer_ops client_ops = {
			.incoming = router_incoming,
			.gone = client_gone,
		};
		struct peer *p;
		if (peer_new(&p, fd, name, &client_ops, NULL) < 0) {
			log_warning("%s: out of resources, connection dropped", name);
			continue;
		}
		p->uid = cr.uid;
		p->gid = cr.gid;
		p->pid = cr.pid;
		if (!allowed(&cr)) {
			log_notice("refused %s: not in allow_users or allow_groups", name);
			nap_conn_abort(
				p->conn, NAP_PERMISSION_DENIED,
				"napd refuses uid %u on %s: the operator can add this user "
				"to allow_users (or a group of it to allow_groups) in napd.conf",
				(unsigned)cr.uid, S.path);
			continue;
		}
		log_debug("%s: connected", name);
	}
}

static int another_napd(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	return r == 0;
}

static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int listener_open(const char *path, const struct napd_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path %s is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	S.cfg = cfg;
	int r = mkdir_parents(path);
	if (r < 0) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(-r));
		return r;
	}
	if (another_napd(&sa)) {
		snprintf(err, errlen, "another napd is already listening on %s", path);
		return -EADDRINUSE;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
				 "%s exists and is not a socket: remove it or pick "
				 "another --socket",
				 path);
			return -EEXIST;
		}
		unlink(path); /* left behind by a napd that did not stop cleanly */
	}
	S.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (S.fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	/* No window in which the socket exists with looser permissions. */
	mode_t old = umask(0777 & ~cfg->socket_mode);
	r = bind(S.fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, cfg->socket_mode) < 0 ||
	    (cfg->socket_gid != (gid_t)-1 && chown(path, (uid_t)-1, cfg->socket_gid) < 0) ||
	    listen(S.fd, SOMAXCONN) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(S.fd);
		S.fd = -1;
		return r;
	}
	snprintf(S.path, sizeof(S.path), "%s", path);
	S.io = (struct loop_io){.fd = S.fd, .events = EPOLLIN, .fn = on_accept};
	S.resume = (struct loop_timer){.fn = on_resume};
	spare_open();
	return loop_add(&S.io);
}

void listener_close(void)
{
	if (S.fd < 0)
		return;
	loop_del(&S.io);
	loop_timer_disarm(&S.resume);
	close(S.fd);
	S.fd = -1;
	if (S.spare >= 0)
		close(S.spare);
	S.spare = -1;
	unlink(S.path);
}
