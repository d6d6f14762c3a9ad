/* plugins/common: a directory as a tar archive, for Docker builds. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tar_context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dockerignore.h"
#include "errbuf.h"

#define TAR_BLOCK 512
/* The largest size a ustar header's 11 octal digits hold; more needs pax. */
#define TAR_USTAR_MAX_SIZE 077777777777ULL
/* How much of a file is read at once. */
#define TAR_READ_CHUNK (64u * 1024)
/* The largest .dockerignore read. */
#define TAR_MAX_DOCKERIGNORE (1u << 20)

struct tar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};
_Static_assert(sizeof(struct tar_header) == TAR_BLOCK, "a tar header is one block");

struct walk {
	int root_fd;
	const char *dir; /* for messages */
	dockerignore *ignore;
	tar_context_write_fn write;
	void *user;
	char *chunk; /* TAR_READ_CHUNK bytes */
	char *err;
	size_t errlen;
};

/* ---- the archive format ---- */

/* Writes v as width - 1 octal digits and a NUL, as GNU tar and Go do; a
 * value too large for the field is clamped (callers avoid that: sizes that
 * large go to a pax header). */
static void octal(char *field, size_t width, unsigned long long v)
{
	size_t digits = width - 1;

	if (digits * 3 < 64 && v >= 1ULL << (digits * 3))
		v = (1ULL << (digits * 3)) - 1;
	field[digits] = '\0';
	while (digits-- > 0) {
		field[digits] = (char)('0' + (v & 7));
		v >>= 3;
	}
}

static int emit(struct walk *w, const void *buf, size_t len)
{
	int r = w->write(w->user, buf, len);

	if (r < 0)
		return errbuf_printf(w->err, w->errlen, r, "writing the context of %s: %s", w->dir,
				     strerror(-r));
	return 0;
}

static int emit_padding(struct walk *w, unsigned long long size)
{
	static const char zeros[TAR_BLOCK];
	size_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;

	return pad ? emit(w, zeros, pad) : 0;
}

/* Appends one pax record, "<len> key=value\n", where len counts itself. */
static int pax_record(nap_buf *b, const char *key, const char *value)
{
	size_t body = 1 + strlen(key) + 1 + strlen(value) + 1, len = body, digits;
	char head[32];

	do { /* the length includes its own digits */
		digits = (size_t)snprintf(head, sizeof(head), "%zu", len);
		len = body + digits;
	} while ((size_t)snprintf(head, sizeof(head), "%zu", len) != digits);
	if (nap_buf_append(b, head, digits) < 0 || nap_buf_append(b, " ", 1) < 0 ||
	    nap_buf_append(b, key, strlen(key)) < 0 || nap_buf_append(b, "=", 1) < 0 ||
	    nap_buf_append(b, value, strlen(value)) < 0 || nap_buf_append(b, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

static void header_checksum(struct tar_header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	unsigned sum = 0;

	memset(h->chksum, ' ', sizeof(h->chksum));
	for (size_t i = 0; i < sizeof(*h); i++)
		sum += p[i];
	snprintf(h->chksum, sizeof(h->chksum), "%06o", sum); /* six digits, NUL, space */
	h->chksum[7] = ' ';
}

/* Fills a ustar header with what every entry has. */
static void header_init(struct tar_header *h, char type, unsigned mode, long long mtime,
			unsigned long long size)
{
	memset(h, 0, sizeof(*h));
	octal(h->mode, sizeof(h->mode), mode & 07777);
	octal(h->uid, sizeof(h->uid), 0);
	octal(h->gid, sizeof(h->gid), 0);
	octal(h->size, sizeof(h->size), size > TAR_USTAR_MAX_SIZE ? 0 : size);
	octal(h->mtime, sizeof(h->mtime), mtime > 0 ? (unsigned long long)mtime : 0);
	h->typeflag = type;
	memcpy(h->magic, "ustar", 6);
	memcpy(h->version, "00", 2);
}

/* Puts path into name/prefix if ustar can hold it; false if it cannot. */
static bool header_set_path(struct tar_header *h, const char *path)
{
	size_t len = strlen(path);

	if (len <= sizeof(h->name)) {
		memcpy(h->name, path, len);
		return true;
	}
	/* Split at a '/' so that prefix holds the front and name the rest. */
	for (size_t i = len - 1; i > 0; i--) {
		if (path[i] != '/' || len - i - 1 > sizeof(h->name) || len - i - 1 == 0)
			continue;
		if (i > sizeof(h->prefix))
			return false;
		memcpy(h->prefix, path, i);
		memcpy(h->name, path + i + 1, len - i - 1);
		return true;
	}
	return false;
}

/* Writes the header(s) of one entry: a pax header first when ustar cannot
 * hold its path, link target or size. */
static int emit_header(struct walk *w, const char *path, char type, unsigned mode, long long mtime,
		       unsigned long long size, const char *link)
{
	struct tar_header h;
	nap_buf pax = {0};
	bool need_pax = false;
	int r = 0;

	header_init(&h, type, mode, mtime, size);
	if (!header_set_path(&h, path)) {
		need_pax = true;
		r = pax_record(&pax, "path", path);
		/* ustar still gets a truncated name, for readers without pax. */
		memcpy(h.name, path, sizeof(h.name));
	}
	if (r == 0 && link) {
		if (strlen(link) <= sizeof(h.linkname)) {
			memcpy(h.linkname, link, strlen(link));
		} else {
			need_pax = true;
			r = pax_record(&pax, "linkpath", link);
		}
	}
	if (r == 0 && size > TAR_USTAR_MAX_SIZE) {
		char n[32];

		snprintf(n, sizeof(n), "%llu", size);
		need_pax = true;
		r = pax_record(&pax, "size", n);
	}
	if (r < 0) {
		nap_buf_release(&pax);
		return errbuf_printf(w->err, w->errlen, -ENOMEM, "out of memory");
	}
	if (need_pax) {
		struct tar_header x;

		header_init(&x, 'x', 0644, mtime, pax.len);
		snprintf(x.name, sizeof(x.name), "PaxHeaders.0/%.80s",
			 strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		header_checksum(&x);
		r = emit(w, &x, sizeof(x));
		if (r == 0)
			r = emit(w, nap_buf_text(&pax), pax.len);
		if (r == 0)
			r = emit_padding(w, pax.len);
		nap_buf_release(&pax);
		if (r < 0)
			return r;
	}
	header_checksum(&h);
	return emit(w, &h, sizeof(h));
}

/* ---- the walk ---- */

static int fail_errno(struct walk *w, int e, const char *what, const char *path)
{
	return errbuf_printf(w->err, w->errlen, -e, "%s %s/%s: %s", what, w->dir, path,
			     strerror(e));
}

static int emit_file(struct walk *w, int dir_fd, const char *name, const char *path,
		     const struct stat *st)
{
	unsigned long long left;
	struct stat fst;
	int fd, r;

	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail_errno(w, errno, "cannot open", path);
	if (fstat(fd, &fst) < 0) {
		r = fail_errno(w, errno, "cannot stat", path);
		goto out;
	}
	if (!S_ISREG(fst.st_mode) || fst.st_ino != st->st_ino || fst.st_dev != st->st_dev) {
		r = fail_errno(w, EAGAIN, "changed while reading", path);
		goto out;
	}
	r = emit_header(w, path, '0', fst.st_mode, fst.st_mtim.tv_sec,
			(unsigned long long)fst.st_size, NULL);
	for (left = (unsigned long long)fst.st_size; r == 0 && left > 0;) {
		ssize_t n = read(fd, w->chunk, left < TAR_READ_CHUNK ? left : TAR_READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail_errno(w, errno, "cannot read", path);
		} else if (n == 0) {
			r = fail_errno(w, EAGAIN, "shrank while reading", path);
		} else {
			r = emit(w, w->chunk, (size_t)n);
			left -= (unsigned long long)n;
		}
	}
	if (r == 0)
		r = emit_padding(w, (unsigned long long)fst.st_size);
out:
	close(fd);
	return r;
}

static int emit_symlink(struct walk *w, int dir_fd, const char *name, const char *path,
			const struct stat *st)
{
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
	char *target;
	ssize_t n;
	int r;

	for (;;) {
		target = malloc(cap);
		if (!target)
			return errbuf_printf(w->err, w->errlen, -ENOMEM, "out of memory");
		n = readlinkat(dir_fd, name, target, cap);
		if (n < 0) {
			free(target);
			return fail_errno(w, errno, "cannot read link", path);
		}
		if ((size_t)n < cap)
			break;
		free(target); /* it grew meanwhile */
		if (cap > TAR_CONTEXT_MAX_PATH)
			return fail_errno(w, ENAMETOOLONG, "cannot read link", path);
		cap *= 2;
	}
	target[n] = '\0';
	r = emit_header(w, path, '2', 0777, st->st_mtim.tv_sec, 0, target);
	free(target);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir_fd's entries (without "." and ".."), sorted; *namesp is an
 * array of *np strings, all freed by free_names(). */
static int list_dir(char ***namesp, size_t *np, int dir_fd)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	fd = dup(dir_fd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
		errno = 0;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	if (r < 0) {
		while (n > 0)
			free(names[--n]);
		free(names);
		return r;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*namesp = names;
	*np = n;
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Archives what dir_fd holds; prefix is its path in the archive ("" for the
 * root, else "a/b/"), in a TAR_CONTEXT_MAX_PATH + 1 buffer we extend. */
static int walk_dir(struct walk *w, int dir_fd, char *prefix, size_t prefix_len, int depth)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (depth > TAR_CONTEXT_MAX_DEPTH)
		return fail_errno(w, ELOOP, "too deeply nested:", prefix);
	r = list_dir(&names, &n, dir_fd);
	if (r < 0)
		return fail_errno(w, -r, "cannot list", prefix);
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t len = strlen(names[i]);
		bool excluded;
		struct stat st;

		if (prefix_len + len + 1 > TAR_CONTEXT_MAX_PATH) {
			prefix[prefix_len] = '\0';
			r = fail_errno(w, ENAMETOOLONG, "path too long under", prefix);
			break;
		}
		memcpy(prefix + prefix_len, names[i], len + 1);
		if (fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : fail_errno(w, errno, "cannot stat", prefix);
			continue; /* gone since the listing: skip it */
		}
		excluded = dockerignore_excludes(w->ignore, prefix);
		if (S_ISDIR(st.st_mode)) {
			int sub;

			if (excluded && !dockerignore_may_include_below(w->ignore, prefix))
				continue;
			prefix[prefix_len + len] = '/';
			prefix[prefix_len + len + 1] = '\0';
			if (!excluded)
				r = emit_header(w, prefix, '5', st.st_mode, st.st_mtim.tv_sec, 0,
						NULL);
			if (r < 0)
				break;
			sub = openat(dir_fd, names[i],
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = fail_errno(w, errno, "cannot open", prefix);
				break;
			}
			r = walk_dir(w, sub, prefix, prefix_len + len + 1, depth + 1);
			close(sub);
		} else if (excluded) {
			continue;
		} else if (S_ISREG(st.st_mode)) {
			r = emit_file(w, dir_fd, names[i], prefix, &st);
		} else if (S_ISLNK(st.st_mode)) {
			r = emit_symlink(w, dir_fd, names[i], prefix, &st);
		} /* sockets, FIFOs, devices: skipped */
	}
	free_names(names, n);
	return r;
}

/* True if p is a clean relative path that stays inside: no leading '/', no
 * empty, "." or ".." component. */
static bool inside_path(const char *p)
{
	if (!*p || *p == '/')
		return false;
	while (*p) {
		size_t k = strcspn(p, "/");

		if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += k;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

/* Reads the directory's .dockerignore (an empty set if there is none) and
 * makes sure the Dockerfile and .dockerignore are never excluded. */
static int load_ignore(struct walk *w, const char *dockerfile)
{
	nap_buf text = {0};
	char pattern[TAR_CONTEXT_MAX_PATH + 2];
	int fd, r = 0;

	fd = openat(w->root_fd, ".dockerignore", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno != ENOENT)
		return fail_errno(w, errno, "cannot open", ".dockerignore");
	while (fd >= 0) {
		ssize_t n = read(fd, w->chunk, TAR_READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail_errno(w, errno, "cannot read", ".dockerignore");
			break;
		}
		if (n == 0)
			break;
		if (text.len + (size_t)n > TAR_MAX_DOCKERIGNORE) {
			r = fail_errno(w, EFBIG, "too large:", ".dockerignore");
			break;
		}
		if (nap_buf_append(&text, w->chunk, (size_t)n) < 0) {
			r = errbuf_printf(w->err, w->errlen, -ENOMEM, "out of memory");
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	if (r == 0)
		r = dockerignore_parse(&w->ignore, nap_buf_text(&text), text.len, w->err,
				       w->errlen);
	nap_buf_release(&text);
	if (r < 0)
		return r;
	if (dockerignore_excludes(w->ignore, ".dockerignore"))
		r = dockerignore_add(w->ignore, "!.dockerignore", w->err, w->errlen);
	if (r == 0 && dockerignore_excludes(w->ignore, dockerfile)) {
		snprintf(pattern, sizeof(pattern), "!%s", dockerfile);
		r = dockerignore_add(w->ignore, pattern, w->err, w->errlen);
	}
	return r;
}

int tar_context_write(const char *dir, const struct tar_context_options *opts,
		      tar_context_write_fn write, void *user, char *err, size_t errlen)
{
	static const char end[2 * TAR_BLOCK];
	const char *dockerfile = opts && opts->dockerfile ? opts->dockerfile : "Dockerfile";
	struct walk w = {.dir = dir, .write = write, .user = user, .err = err, .errlen = errlen};
	char *path = NULL;
	struct stat st;
	int r;

	if (!inside_path(dockerfile) || strlen(dockerfile) > TAR_CONTEXT_MAX_PATH)
		return errbuf_printf(err, errlen, -EINVAL,
				     "the Dockerfile path \"%s\" must be a plain relative path "
				     "inside %s",
				     dockerfile, dir);
	w.root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.root_fd < 0)
		return errbuf_printf(err, errlen, -errno, "cannot open %s: %s", dir,
				     strerror(errno));
	w.chunk = malloc(TAR_READ_CHUNK);
	path = malloc(TAR_CONTEXT_MAX_PATH + 2);
	if (!w.chunk || !path) {
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (fstatat(w.root_fd, dockerfile, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) {
		r = errbuf_printf(err, errlen, -ENOENT, "%s has no %s", dir, dockerfile);
		goto out;
	}
	r = load_ignore(&w, dockerfile);
	if (r == 0) {
		path[0] = '\0';
		r = walk_dir(&w, w.root_fd, path, 0, 0);
	}
	if (r == 0)
		r = emit(&w, end, sizeof(end));
out:
	dockerignore_free(w.ignore);
	free(path);
	free(w.chunk);
	close(w.root_fd);
	return r;
}

struct mem_sink {
	nap_buf buf;
	size_t max_len;
};

static int mem_write(void *user, const void *data, size_t len)
{
	struct mem_sink *m = user;

	if (m->max_len && m->buf.len + len > m->max_len)
		return -EFBIG;
	return nap_buf_append(&m->buf, data, len);
}

int tar_context_buffer(char **tarp, size_t *lenp, const char *dir,
		       const struct tar_context_options *opts, size_t max_len, char *err,
		       size_t errlen)
{
	struct mem_sink m = {.max_len = max_len};
	int r = tar_context_write(dir, opts, mem_write, &m, err, errlen);

	if (r == -EFBIG)
		errbuf_printf(err, errlen, r, "the build context of %s is larger than %zu bytes",
			      dir, max_len);
	if (r < 0) {
		nap_buf_release(&m.buf);
		return r;
	}
	*lenp = m.buf.len;
	*tarp = nap_buf_steal(&m.buf);
	return 0;
}
