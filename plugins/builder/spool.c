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

enum context_state {
	CONTEXT_ARRIVING, /* its upload is under way */
	CONTEXT_WHOLE,    /* every announced byte is in */
	CONTEXT_FAILED,   /* its upload failed or was abandoned */
};

/* One context, shared by its upload, the spool's list and the build that
 * took it; freed with the last of them. Fields under spool.lock. */
struct context {
	struct context *next; /* in spool.held while held */
	char id[SPOOL_ID_LEN + 1];
	char *app;
	uint64_t announced, written;
	uint64_t touched_ms; /* when it became whole */
	enum context_state state;
	bool held;
	int refs;
};

struct spool {
	char *dir;
	uint64_t max_bytes;
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a context grew or ended (CLOCK_MONOTONIC) */
	struct context *held;
	/* the sweeper */
	bool sweeping, stop;
	uint32_t sweep_ms;
	pthread_t sweeper;
	pthread_cond_t wake;
};

struct spool_upload {
	struct spool *s;
	struct context *c;
	int fd;
};

struct spool_reader {
	struct spool *s;
	struct context *c;
	int fd;
	uint64_t offset;
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

/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait(). */
static struct timespec deadline_in(uint32_t ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *sweeper(void *arg)
{
	struct spool *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec until = deadline_in(s->sweep_ms);

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

/* A condition variable on CLOCK_MONOTONIC. */
static int cond_init(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	int r = pthread_condattr_init(&attr);

	if (r == 0)
		r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return -r;
}

static int start_sweeper(struct spool *s)
{
	int r = cond_init(&s->wake);

	if (r < 0)
		return r;
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
	r = cond_init(&s->changed);
	if (r < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s->dir);
		free(s);
		return errbuf_printf(err, errlen, r, "cannot make a condition variable: %s",
				     strerror(-r));
	}
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

/* Drops one reference (lock held); the last frees c. */
static void context_unref(struct context *c)
{
	if (--c->refs > 0)
		return;
	free(c->app);
	free(c);
}

/* Takes c out of the held list (lock held), with the list's reference. */
static void context_unhold(struct spool *s, struct context *c)
{
	for (struct context **pp = &s->held; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			c->held = false;
			context_unref(c);
			return;
		}
	}
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
	while (s->held) {
		unlink_id(s, s->held->id);
		context_unhold(s, s->held);
	}
	pthread_cond_destroy(&s->changed);
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

int spool_upload_start(struct spool_upload **up, char id[SPOOL_ID_LEN + 1], struct spool *s,
		       const char *app, uint64_t size, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct spool_upload *u;
	struct context *c;
	int r;

	if (size > s->max_bytes)
		return errbuf_printf(err, errlen, -EFBIG,
				     "a build context of %llu bytes is larger than this builder "
				     "takes (%llu MiB, setting max_context_mb)",
				     (unsigned long long)size,
				     (unsigned long long)(s->max_bytes >> 20));
	u = calloc(1, sizeof(*u));
	c = calloc(1, sizeof(*c));
	if (!u || !c || !(c->app = strdup(app))) {
		free(u);
		free(c);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	u->s = s;
	u->c = c;
	c->announced = size;
	c->state = CONTEXT_ARRIVING;
	r = random_id(c->id);
	if (r == 0) {
		file_path(path, s, c->id);
		u->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (u->fd < 0)
			r = -errno;
	}
	if (r < 0) {
		errbuf_printf(err, errlen, r, "cannot make a spool file in %s: %s", s->dir,
			      strerror(-r));
		free(c->app);
		free(c);
		free(u);
		return r;
	}
	c->refs = 2; /* the upload's, the list's */
	c->held = true;
	memcpy(id, c->id, sizeof(c->id));
	pthread_mutex_lock(&s->lock);
	c->next = s->held;
	s->held = c;
	pthread_mutex_unlock(&s->lock);
	*up = u;
	return 0;
}

int spool_upload_write(struct spool_upload *u, const void *data, size_t len, char *err,
		       size_t errlen)
{
	struct context *c = u->c;
	const char *p = data;

	/* written changes only here, on the upload's thread */
	if (len > c->announced - c->written)
		return errbuf_printf(err, errlen, -EFBIG,
				     "the client sent more than the %llu bytes it announced",
				     (unsigned long long)c->announced);
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
		pthread_mutex_lock(&u->s->lock);
		c->written += (uint64_t)n;
		pthread_cond_broadcast(&u->s->changed);
		pthread_mutex_unlock(&u->s->lock);
	}
	return 0;
}

uint64_t spool_upload_size(const struct spool_upload *u)
{
	return u->c->written;
}

/* Ends an upload: its context whole, or failed (then deleted). */
static void upload_end(struct spool_upload *u, enum context_state state)
{
	struct spool *s = u->s;
	struct context *c = u->c;

	close(u->fd);
	pthread_mutex_lock(&s->lock);
	c->state = state;
	c->touched_ms = spool_now_ms();
	if (state == CONTEXT_FAILED) {
		if (c->held)
			context_unhold(s, c);
		unlink_id(s, c->id); /* already gone if a build took it */
	}
	pthread_cond_broadcast(&s->changed);
	context_unref(c);
	pthread_mutex_unlock(&s->lock);
	free(u);
}

int spool_upload_finish(struct spool_upload *u, char *err, size_t errlen)
{
	uint64_t announced = u->c->announced, written = u->c->written;

	if (written != announced) {
		upload_end(u, CONTEXT_FAILED);
		return errbuf_printf(err, errlen, -EPROTO,
				     "the client announced %llu bytes of context and sent %llu",
				     (unsigned long long)announced, (unsigned long long)written);
	}
	upload_end(u, CONTEXT_WHOLE);
	return 0;
}

void spool_upload_abort(struct spool_upload *u)
{
	if (u)
		upload_end(u, CONTEXT_FAILED);
}

int spool_take(struct spool_reader **rp, uint64_t *sizep, struct spool *s, const char *id,
	       const char *app)
{
	char path[PATH_MAX];
	struct spool_reader *r = calloc(1, sizeof(*r));
	struct context *c;

	if (!r)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	for (c = s->held; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			break;
	if (!c || strcmp(c->app, app) != 0) {
		pthread_mutex_unlock(&s->lock);
		free(r);
		return c ? -EPERM : -ENOENT;
	}
	/* The list's reference becomes the reader's. */
	for (struct context **pp = &s->held; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->held = false;
	file_path(path, s, c->id);
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unlink(path); /* the data stays until the reader closes */
	if (r->fd < 0) {
		context_unref(c);
		pthread_mutex_unlock(&s->lock);
		free(r);
		return -ENOENT;
	}
	*sizep = c->announced;
	pthread_mutex_unlock(&s->lock);
	r->s = s;
	r->c = c;
	*rp = r;
	return 0;
}

ssize_t spool_read(struct spool_reader *r, void *buf, size_t len, const atomic_int *cancel)
{
	struct spool *s = r->s;
	struct context *c = r->c;
	uint64_t avail;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		avail = c->written - r->offset;
		if (avail > 0 || c->state != CONTEXT_ARRIVING)
			break;
		if (cancel && atomic_load(cancel)) {
			pthread_mutex_unlock(&s->lock);
			return -ECANCELED;
		}
		struct timespec until = deadline_in(100);

		pthread_cond_timedwait(&s->changed, &s->lock, &until);
	}
	enum context_state state = c->state;

	pthread_mutex_unlock(&s->lock);
	if (state == CONTEXT_FAILED)
		return -EPIPE;
	if (avail == 0)
		return 0;
	if (len > avail)
		len = (size_t)avail;
	for (;;) {
		ssize_t n = pread(r->fd, buf, len, (off_t)r->offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO; /* the bytes were written: a short file is a fault */
		r->offset += (uint64_t)n;
		return n;
	}
}

void spool_reader_close(struct spool_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	pthread_mutex_lock(&r->s->lock);
	context_unref(r->c);
	pthread_mutex_unlock(&r->s->lock);
	free(r);
}

size_t spool_sweep(struct spool *s, uint64_t now_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (struct context *c = s->held, *next; c; c = next) {
		next = c->next;
		if (c->state == CONTEXT_WHOLE && now_ms >= c->touched_ms + SPOOL_IDLE_MS) {
			unlink_id(s, c->id);
			context_unhold(s, c);
			n++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t spool_count(struct spool *s)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (const struct context *c = s->held; c; c = c->next)
		n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}
