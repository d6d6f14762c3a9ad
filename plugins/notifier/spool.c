/* notifier: the spool directory (see spool.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"

/* The first line of every spool file; another one is not ours to read. */
#define SPOOL_MAGIC "nap-notification 1"
#define SPOOL_SUFFIX ".notice"
/* A spool file larger than this is not one we wrote (bodies are far smaller). */
#define SPOOL_FILE_MAX (16u << 20)

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int spool_open(const char *dir, const nap_host *host)
{
	int r = make_dirs(dir);

	if (r == 0 && access(dir, W_OK | X_OK) < 0)
		r = -errno;
	if (r < 0)
		host->log(NAP_LOG_ERROR,
			  "notifier: cannot use the spool directory %s: %s; create it writable "
			  "for napd's user, or set 'spool' in the [plugin notifier] section of "
			  "napd.conf",
			  dir, strerror(-r));
	return r;
}

/* Writes all of buf to fd. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Makes the rename durable: syncs the directory itself. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int spool_write(const char *dir, struct notice *n, char *err, size_t errlen)
{
	static atomic_uint seq;
	char name[96], tmp[PATH_MAX], path[PATH_MAX], *head = NULL;
	struct timespec now;
	int fd, r, hlen;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(name, sizeof(name), "%020llu-%d-%06u" SPOOL_SUFFIX,
		 (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec,
		 (int)getpid(), atomic_fetch_add(&seq, 1) % 1000000u);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return errbuf_printf(err, errlen, -ENAMETOOLONG,
				     "notifier: the spool directory's name is too long");
	hlen = asprintf(&head, "%s\n%s\n%s\n", SPOOL_MAGIC, n->event, n->what);
	if (hlen < 0)
		return errbuf_printf(err, errlen, -ENOMEM, "notifier: out of memory");
	n->file = strdup(name);
	if (!n->file) {
		free(head);
		return errbuf_printf(err, errlen, -ENOMEM, "notifier: out of memory");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, head, (size_t)hlen);
	if (r == 0)
		r = write_all(fd, n->body, n->body_len);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	free(head);
	if (r < 0) {
		if (fd >= 0)
			unlink(tmp);
		free(n->file);
		n->file = NULL;
		return errbuf_printf(err, errlen, r,
				     "notifier: cannot keep the notification in the spool %s: %s; "
				     "nothing was queued",
				     dir, strerror(-r));
	}
	sync_dir(dir);
	return 0;
}

void spool_remove(const char *dir, const struct notice *n, const nap_host *host)
{
	char path[PATH_MAX];

	if (!n->file)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, n->file);
	if (unlink(path) < 0 && errno != ENOENT)
		host->log(NAP_LOG_WARNING,
			  "notifier: cannot remove %s from the spool: %s; it will be delivered "
			  "again at the next start",
			  path, strerror(errno));
}

/* Splits the next line off *p (of *left bytes) into dst. */
static int take_line(char **p, size_t *left, char *dst, size_t dstlen)
{
	char *nl = memchr(*p, '\n', *left);
	size_t len;

	if (!nl)
		return -EINVAL;
	len = (size_t)(nl - *p);
	if (len >= dstlen)
		return -EINVAL;
	memcpy(dst, *p, len);
	dst[len] = '\0';
	*left -= len + 1;
	*p = nl + 1;
	return 0;
}

/* Reads one spool file into a new notice. */
static int read_notice(const char *dir, const char *name, struct notice **out)
{
	char path[PATH_MAX], magic[sizeof(SPOOL_MAGIC)], *buf = NULL, *p;
	struct notice *n = NULL;
	struct stat st;
	size_t left;
	int r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || st.st_size > (off_t)SPOOL_FILE_MAX)
		r = -EFBIG;
	if (r == 0 && !(buf = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	if (r == 0 && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		r = -EIO;
	fclose(f);
	if (r == 0 && !(n = calloc(1, sizeof(*n))))
		r = -ENOMEM;
	p = buf, left = r == 0 ? (size_t)st.st_size : 0;
	if (r == 0 &&
	    (take_line(&p, &left, magic, sizeof(magic)) < 0 || strcmp(magic, SPOOL_MAGIC) != 0 ||
	     take_line(&p, &left, n->event, sizeof(n->event)) < 0 ||
	     take_line(&p, &left, n->what, sizeof(n->what)) < 0))
		r = -EINVAL;
	if (r == 0 && (!(n->body = malloc(left + 1)) || !(n->file = strdup(name))))
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		notice_free(n);
		return r;
	}
	memcpy(n->body, p, left);
	n->body[left] = '\0';
	n->body_len = left;
	free(buf);
	*out = n;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_notice(const char *name)
{
	size_t len = strlen(name), slen = strlen(SPOOL_SUFFIX);

	return name[0] != '.' && len > slen && strcmp(name + len - slen, SPOOL_SUFFIX) == 0;
}

size_t spool_load(const char *dir, void (*push)(struct notice *n, void *user), void *user,
		  const nap_host *host)
{
	char **names = NULL, path[PATH_MAX];
	size_t count = 0, cap = 0, loaded = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d) {
		host->log(NAP_LOG_ERROR, "notifier: cannot read the spool %s: %s", dir,
			  strerror(errno));
		return 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && is_notice(e->d_name + 1)) {
			/* A crash between open and rename: Notify never answered. */
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
			continue;
		}
		if (!is_notice(e->d_name))
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = realloc(names, ncap * sizeof(*names));
			if (!nn)
				break;
			names = nn, cap = ncap;
		}
		if (!(names[count] = strdup(e->d_name)))
			break;
		count++;
	}
	closedir(d);
	if (count)
		qsort(names, count, sizeof(*names), by_name);
	for (size_t i = 0; i < count; i++) {
		struct notice *n = NULL;
		int r = read_notice(dir, names[i], &n);

		if (r < 0)
			host->log(NAP_LOG_ERROR,
				  "notifier: cannot read %s/%s from the spool (%s): left there",
				  dir, names[i], strerror(-r));
		else
			push(n, user), loaded++;
		free(names[i]);
	}
	free(names);
	return loaded;
}
