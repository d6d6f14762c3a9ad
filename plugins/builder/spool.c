/* plugins/builder: the spool of uploaded build contexts (see spool.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"

/* A context kept for a build. */
struct kept {
	struct kept *next;
	char id[SPOOL_ID_LEN + 1];
	char *app;
	uint64_t size;
	uint64_t touched_ms;
};

struct spool {
	char *dir;
	uint64_t max_bytes;
	pthread_mutex_t lock;
	struct kept *kept;
	/* the sweeper */
	bool sweeping, stop;
	uint32_t sweep_ms;
	pthread_t sweeper;
	pthread_cond_t wake;
};

struct spool_upload {
	struct spool *s;
	char id[SPOOL_ID_LEN + 1];
	char *app;
	int fd;
	uint64_t announced, written;
};

uint64_t spool_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "<dir>/<id>.tar" into path (PATH_MAX bytes). */
static void file_path(char *path, const struct spool *s, const char *id)
{
	snprintf(path, PATH_MAX, "%s/%s.tar", s->dir, id);
}

static void unlink_id(const struct spool *s, const char *id)
{
	char path[PATH_MAX];

	file_path(path, s, id);
	unlink(path);
}

/* A name this spool makes: 32 lowercase hex digits and ".tar". */
static bool spool_name(const char *name)
{
	size_t i;

	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return strcmp(name + SPOOL_ID_LEN, ".tar") == 0;
}

/* mkdir -p with mode 0700 for what it makes. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

/* Deletes what an earlier process left: nobody can name it any more. */
static int remove_leftovers(const struct spool *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (spool_name(e->d_name))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	return 0;
}

static void *sweeper(void *arg)
{
	struct spool *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += s->sweep_ms / 1000;
		until.tv_nsec += (long)(s->sweep_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->lock);
		spool_sweep(s, spool_now_ms());
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int start_sweeper(struct spool *s)
{
	pthread_condattr_t attr;
	int r = pthread_condattr_init(&attr);

	if (r == 0)
		r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (r)
		return -r;
	r = pthread_create(&s->sweeper, NULL, sweeper, s);
	if (r) {
		pthread_cond_destroy(&s->wake);
		return -r;
	}
	s->sweeping = true;
	return 0;
}

int spool_open(struct spool **sp, const char *dir, uint64_t max_bytes, uint32_t sweep_ms, char *err,
	       size_t errlen)
{
	struct spool *s = calloc(1, sizeof(*s));
	int r;

	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	s->max_bytes = max_bytes;
	s->sweep_ms = sweep_ms;
	pthread_mutex_init(&s->lock, NULL);
	r = make_dirs(dir);
	if (r == 0 && chmod(dir, 0700) < 0)
		r = -errno;
	if (r == 0)
		r = remove_leftovers(s);
	if (r < 0) {
		errbuf_printf(err, errlen, r, "cannot use %s for build contexts: %s", dir,
			      strerror(-r));
		spool_close(s);
		return r;
	}
	if (sweep_ms && (r = start_sweeper(s)) < 0) {
		errbuf_printf(err, errlen, r, "cannot start the spool's sweeper: %s", strerror(-r));
		spool_close(s);
		return r;
	}
	*sp = s;
	return 0;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->sweeping) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->sweeper, NULL);
		pthread_cond_destroy(&s->wake);
	}
	while (s->kept) {
		struct kept *k = s->kept;

		s->kept = k->next;
		unlink_id(s, k->id);
		free(k->app);
		free(k);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->dir);
	free(s);
}

uint64_t spool_max_bytes(const struct spool *s)
{
	return s->max_bytes;
}

static int random_id(char id[SPOOL_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[SPOOL_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(bytes); i++) {
		id[2 * i] = hex[bytes[i] >> 4];
		id[2 * i + 1] = hex[bytes[i] & 15];
	}
	id[SPOOL_ID_LEN] = '\0';
	return 0;
}

int spool_upload_start(struct spool_upload **up, struct spool *s, const char *app, uint64_t size,
		       char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct spool_upload *u;
	int r;

	if (size > s->max_bytes)
		return errbuf_printf(err, errlen, -EFBIG,
				     "a build context of %llu bytes is larger than this builder "
				     "takes (%llu MiB, setting max_context_mb)",
				     (unsigned long long)size,
				     (unsigned long long)(s->max_bytes >> 20));
	u = calloc(1, sizeof(*u));
	if (!u || !(u->app = strdup(app))) {
		free(u);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	u->s = s;
	u->announced = size;
	r = random_id(u->id);
	if (r == 0) {
		file_path(path, s, u->id);
		u->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (u->fd < 0)
			r = -errno;
	}
	if (r < 0) {
		errbuf_printf(err, errlen, r, "cannot make a spool file in %s: %s", s->dir,
			      strerror(-r));
		free(u->app);
		free(u);
		return r;
	}
	*up = u;
	return 0;
}

int spool_upload_write(struct spool_upload *u, const void *data, size_t len, char *err,
		       size_t errlen)
{
	const char *p = data;

	if (len > u->announced - u->written)
		return errbuf_printf(err, errlen, -EFBIG,
				     "the client sent more than the %llu bytes it announced",
				     (unsigned long long)u->announced);
	while (len > 0) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errbuf_printf(err, errlen, -errno,
					     "cannot write the build context into %s: %s",
					     u->s->dir, strerror(errno));
		p += n;
		len -= (size_t)n;
		u->written += (uint64_t)n;
	}
	return 0;
}

uint64_t spool_upload_size(const struct spool_upload *u)
{
	return u->written;
}

static void upload_free(struct spool_upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	free(u->app);
	free(u);
}

int spool_upload_finish(struct spool_upload *u, char id[SPOOL_ID_LEN + 1], char *err, size_t errlen)
{
	struct spool *s = u->s;
	struct kept *k;

	if (u->written != u->announced) {
		errbuf_printf(err, errlen, -EPROTO,
			      "the client announced %llu bytes of context and sent %llu",
			      (unsigned long long)u->announced, (unsigned long long)u->written);
		spool_upload_abort(u);
		return -EPROTO;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		spool_upload_abort(u);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	memcpy(k->id, u->id, sizeof(k->id));
	k->app = u->app;
	u->app = NULL;
	k->size = u->written;
	k->touched_ms = spool_now_ms();
	memcpy(id, u->id, SPOOL_ID_LEN + 1);
	upload_free(u);
	pthread_mutex_lock(&s->lock);
	k->next = s->kept;
	s->kept = k;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void spool_upload_abort(struct spool_upload *u)
{
	if (!u)
		return;
	unlink_id(u->s, u->id);
	upload_free(u);
}

int spool_take(int *fdp, uint64_t *sizep, struct spool *s, const char *id, const char *app)
{
	char path[PATH_MAX];
	struct kept **pp, *k;
	int fd;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->kept; (k = *pp); pp = &k->next)
		if (strcmp(k->id, id) == 0)
			break;
	if (k && strcmp(k->app, app) != 0) {
		pthread_mutex_unlock(&s->lock);
		return -EPERM;
	}
	if (k)
		*pp = k->next;
	pthread_mutex_unlock(&s->lock);
	if (!k)
		return -ENOENT;
	file_path(path, s, k->id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unlink(path); /* the data stays until the build closes fd */
	if (fd >= 0)
		*sizep = k->size;
	free(k->app);
	free(k);
	if (fd < 0)
		return -ENOENT;
	*fdp = fd;
	return 0;
}

size_t spool_sweep(struct spool *s, uint64_t now_ms)
{
	struct kept **pp = &s->kept, *k, *gone = NULL;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while ((k = *pp)) {
		if (now_ms >= k->touched_ms + SPOOL_IDLE_MS) {
			*pp = k->next;
			k->next = gone;
			gone = k;
		} else {
			pp = &k->next;
		}
	}
	pthread_mutex_unlock(&s->lock);
	while ((k = gone)) {
		gone = k->next;
		unlink_id(s, k->id);
		free(k->app);
		free(k);
		n++;
	}
	return n;
}

size_t spool_count(struct spool *s)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (const struct kept *k = s->kept; k; k = k->next)
		n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}
