/* tests/plugins: the builder's spool of uploaded build contexts
 * (plugins/builder/spool.c), without servers: the size bound, what an
 * abandoned, short or long upload leaves (nothing), ids, taking a context
 * once and only for its app, reading one while it still arrives (and what
 * the reader sees when its upload fails or the build is cancelled), the
 * sweep of unused contexts, and what opening and closing the spool
 * delete. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_testing.h"
#include "spool.h"

static char dir[256];

/* Files in the spool directory. */
static int files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool hex_id(const char *id)
{
	if (strlen(id) != SPOOL_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Uploads text for app; returns 0 with its id. */
static int upload(struct spool *s, char id[SPOOL_ID_LEN + 1], const char *app, const char *text)
{
	struct spool_upload *u;
	char err[256];
	int r = spool_upload_start(&u, id, s, app, strlen(text), err, sizeof(err));

	if (r < 0)
		return r;
	r = spool_upload_write(u, text, strlen(text), err, sizeof(err));
	if (r < 0) {
		spool_upload_abort(u);
		return r;
	}
	return spool_upload_finish(u, err, sizeof(err));
}

static void test_open(void)
{
	char path[512], other[512];
	struct spool *s = NULL;
	struct stat st;
	char err[256];
	int fd;

	/* what an earlier builder left: its files go, anything else stays */
	snprintf(path, sizeof(path), "%s/0123456789abcdef0123456789abcdef.tar", dir);
	snprintf(other, sizeof(other), "%s/keep-me", dir);
	CHECK(mkdir(dir, 0755) == 0, "made %s", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	fd = open(other, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(spool_open(&s, dir, 100, 0, err, sizeof(err)) == 0, "spool opens: %s", err);
	CHECK(access(path, F_OK) < 0 && access(other, F_OK) == 0,
	      "opening deletes a context file left from before, and only that");
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "the spool is 0700 (%o)",
	      st.st_mode & 0777);
	unlink(other);
	spool_close(s);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	CHECK(spool_open(&s, path, 100, 0, err, sizeof(err)) == 0 && stat(path, &st) == 0,
	      "a missing directory is made with its parents");
	spool_close(s);
	snprintf(other, sizeof(other), "%s/a", dir);
	rmdir(path);
	rmdir(other);
	CHECK(spool_open(&s, "/proc/nap-spool-test", 100, 0, err, sizeof(err)) < 0 && err[0],
	      "a directory that cannot be made is one line: %s", err);
}

static void test_limits(struct spool *s)
{
	struct spool_upload *u = NULL;
	char err[256] = "", id[SPOOL_ID_LEN + 1];
	int r;

	r = spool_upload_start(&u, id, s, "web", 101, err, sizeof(err));
	CHECK(r == -EFBIG && strstr(err, "max_context_mb") && files() == 0,
	      "a context announced past the bound is refused before a file is made: %s", err);
	r = spool_upload_start(&u, id, s, "web", 100, err, sizeof(err));
	CHECK(r == 0 && files() == 1, "one exactly at the bound is taken");
	r = spool_upload_write(u, "0123456789", 10, err, sizeof(err));
	CHECK(r == 0 && spool_upload_size(u) == 10, "a write counts its bytes");
	spool_upload_abort(u);
	CHECK(files() == 0 && spool_count(s) == 0, "an abandoned upload leaves no file");

	CHECK(spool_upload_start(&u, id, s, "web", 5, err, sizeof(err)) == 0, "another one starts");
	r = spool_upload_write(u, "0123456789", 10, err, sizeof(err));
	CHECK(r == -EFBIG && strstr(err, "announced"), "more than announced is refused: %s", err);
	spool_upload_abort(u);
	CHECK(files() == 0, "... and leaves no file");

	CHECK(spool_upload_start(&u, id, s, "web", 5, err, sizeof(err)) == 0, "another one starts");
	spool_upload_write(u, "012", 3, err, sizeof(err));
	r = spool_upload_finish(u, err, sizeof(err));
	CHECK(r == -EPROTO && files() == 0 && spool_count(s) == 0,
	      "fewer bytes than announced: refused, no file (%s)", err);
}

static void test_take(struct spool *s)
{
	char id[SPOOL_ID_LEN + 1], id2[SPOOL_ID_LEN + 1], path[512], buf[64];
	struct spool_reader *rd = NULL;
	struct stat st;
	uint64_t size = 0;
	int r;

	CHECK(upload(s, id, "web", "tar bytes") == 0 && hex_id(id), "an upload answers an id: %s",
	      id);
	CHECK(upload(s, id2, "web", "other") == 0 && strcmp(id, id2) != 0, "ids differ");
	snprintf(path, sizeof(path), "%s/%s.tar", dir, id);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 9,
	      "the context is kept in a 0600 file of its size");
	CHECK(spool_count(s) == 2, "two contexts held");
	r = spool_take(&rd, &size, s, id, "api");
	CHECK(r == -EPERM && spool_count(s) == 2, "another app cannot take it");
	r = spool_take(&rd, &size, s, "00000000000000000000000000000000", "web");
	CHECK(r == -ENOENT, "an unknown id is -ENOENT");
	r = spool_take(&rd, &size, s, id, "web");
	CHECK(r == 0 && size == 9, "its app takes it");
	CHECK(r == 0 && spool_read(rd, buf, sizeof(buf), NULL) == 9 &&
		      memcmp(buf, "tar bytes", 9) == 0 &&
		      spool_read(rd, buf, sizeof(buf), NULL) == 0,
	      "... and reads what was uploaded, then its end");
	CHECK(access(path, F_OK) < 0 && spool_count(s) == 1,
	      "once taken it is out of the spool (gone with the build's reader)");
	spool_reader_close(rd);
	CHECK(spool_take(&rd, &size, s, id, "web") == -ENOENT, "a context is used once");
	CHECK(spool_take(&rd, &size, s, id2, "web") == 0, "the other one is still there");
	spool_reader_close(rd);
	CHECK(files() == 0, "nothing left");
}

/* A reader on its own thread, reading a context while it arrives. */
struct reading {
	struct spool_reader *rd;
	atomic_int cancel;
	char got[64];
	atomic_size_t len;
	atomic_long last; /* 1 while reading; then the read that ended it: 0, -EPIPE, -ECANCELED */
};

static void *read_all(void *arg)
{
	struct reading *rg = arg;

	for (;;) {
		size_t len = atomic_load(&rg->len);
		ssize_t n = spool_read(rg->rd, rg->got + len, sizeof(rg->got) - len, &rg->cancel);

		if (n <= 0) {
			atomic_store(&rg->last, (long)n);
			return NULL;
		}
		atomic_store(&rg->len, len + (size_t)n);
	}
}

/* Waits up to 2 s for the reader's thread to end; true if it did. */
static bool ended(pthread_t t, struct reading *rg)
{
	for (int i = 0; i < 200 && atomic_load(&rg->last) == 1; i++)
		usleep(10000);
	if (atomic_load(&rg->last) == 1)
		return false;
	pthread_join(t, NULL);
	return true;
}

static void test_arriving(struct spool *s)
{
	struct spool_upload *u;
	struct reading rg = {.last = 1};
	char id[SPOOL_ID_LEN + 1], err[256];
	uint64_t size;
	pthread_t t;

	CHECK(spool_upload_start(&u, id, s, "web", 10, err, sizeof(err)) == 0 &&
		      spool_count(s) == 1,
	      "an upload under way is held, by the id it started with");
	CHECK(spool_take(&rg.rd, &size, s, id, "web") == 0 && size == 10,
	      "a build takes it before it is whole (announced size %llu)",
	      (unsigned long long)size);
	pthread_create(&t, NULL, read_all, &rg);
	spool_upload_write(u, "01234", 5, err, sizeof(err));
	usleep(50000);
	CHECK(atomic_load(&rg.last) == 1 && atomic_load(&rg.len) == 5,
	      "the reader gets what came and waits (%zu bytes)", atomic_load(&rg.len));
	spool_upload_write(u, "56789", 5, err, sizeof(err));
	CHECK(spool_upload_finish(u, err, sizeof(err)) == 0, "the upload ends whole");
	CHECK(ended(t, &rg) && rg.last == 0 && rg.len == 10 &&
		      memcmp(rg.got, "0123456789", 10) == 0,
	      "the reader reads all of it, then its end");
	spool_reader_close(rg.rd);
	CHECK(files() == 0, "nothing left");

	rg = (struct reading){.last = 1};
	CHECK(spool_upload_start(&u, id, s, "web", 10, err, sizeof(err)) == 0 &&
		      spool_take(&rg.rd, &size, s, id, "web") == 0,
	      "another arriving context is taken");
	pthread_create(&t, NULL, read_all, &rg);
	spool_upload_write(u, "012", 3, err, sizeof(err));
	spool_upload_abort(u);
	CHECK(ended(t, &rg) && rg.last == -EPIPE, "its upload abandoned, the reader gets -EPIPE");
	spool_reader_close(rg.rd);
	CHECK(files() == 0, "... and nothing is left");

	rg = (struct reading){.last = 1};
	CHECK(spool_upload_start(&u, id, s, "web", 10, err, sizeof(err)) == 0 &&
		      spool_take(&rg.rd, &size, s, id, "web") == 0,
	      "a third arriving context is taken");
	pthread_create(&t, NULL, read_all, &rg);
	atomic_store(&rg.cancel, 1);
	CHECK(ended(t, &rg) && rg.last == -ECANCELED,
	      "a build cancelled while it waits for more gets -ECANCELED");
	spool_reader_close(rg.rd);
	spool_upload_abort(u);
	CHECK(files() == 0 && spool_count(s) == 0, "... and nothing is left");

	CHECK(spool_upload_start(&u, id, s, "web", 10, err, sizeof(err)) == 0, "a fourth starts");
	spool_upload_write(u, "012", 3, err, sizeof(err));
	CHECK(spool_sweep(s, spool_now_ms() + SPOOL_IDLE_MS + 1000) == 0 && spool_count(s) == 1,
	      "an upload under way is never swept");
	spool_upload_abort(u);
	CHECK(files() == 0 && spool_count(s) == 0, "abandoned before it was taken, it is gone");
}

static void test_sweep(struct spool *s)
{
	char id[SPOOL_ID_LEN + 1];
	uint64_t now;

	CHECK(upload(s, id, "web", "x") == 0, "a context is kept");
	now = spool_now_ms();
	CHECK(spool_sweep(s, now) == 0 && spool_count(s) == 1, "a fresh context is not swept");
	CHECK(spool_sweep(s, now + SPOOL_IDLE_MS - 1000) == 0, "... nor one just short of %u ms",
	      SPOOL_IDLE_MS);
	CHECK(spool_sweep(s, now + SPOOL_IDLE_MS + 1000) == 1 && spool_count(s) == 0 &&
		      files() == 0,
	      "one unused for %u ms is swept, its file deleted", SPOOL_IDLE_MS);
	CHECK(upload(s, id, "web", "x") == 0 && files() == 1, "another is kept");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct spool *s = NULL;
	char err[256];

	snprintf(dir, sizeof(dir), "%s/test-builder-spool.%d", tmp && *tmp ? tmp : "/tmp",
		 (int)getpid());
	test_open();
	CHECK(spool_open(&s, dir, 100, 20, err, sizeof(err)) == 0,
	      "the spool opens with its sweeper thread: %s", err);
	if (!s)
		return DONE();
	test_limits(s);
	test_take(s);
	test_arriving(s);
	test_sweep(s);
	spool_close(s);
	CHECK(files() == 0, "closing the spool deletes what it kept");
	rmdir(dir);
	return DONE();
}
