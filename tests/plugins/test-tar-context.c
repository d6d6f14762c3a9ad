/* tests/plugins: tar_context and dockerignore, checked by the system's tar.
 *
 * Builds a directory tree in a temporary directory, archives it, and reads
 * the archive back with `tar -tvf` (names, types, modes, link targets) and
 * `tar -xf` (contents). Needs no server; skipped (77) if there is no tar. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockerignore.h"
#include "tar_context.h"
#include "plugin_testing.h"

static char tmp[] = "/tmp/nap-test-tar-XXXXXX";

static void put(const char *rel, const char *content, mode_t mode)
{
	char path[4600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ctx/%s", tmp, rel);
	f = fopen(path, "w");
	if (!f || fputs(content, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0) {
		perror(path);
		exit(99);
	}
}

static void mkdirs(const char *rel)
{
	if (shell("mkdir -p '%s/ctx/%s'", tmp, rel) != 0)
		exit(99);
}

static void symlink_at(const char *target, const char *rel)
{
	char path[4600];

	snprintf(path, sizeof(path), "%s/ctx/%s", tmp, rel);
	if (symlink(target, path) != 0) {
		perror(path);
		exit(99);
	}
}

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : -errno;
}

/* `tar -tvf` of archive, one entry a line, "mode name[ -> target]" (tar's
 * owner, size and date columns dropped). */
static char *listing(const char *archive)
{
	char *cmd, line[8192];
	size_t cap = 65536, len = 0;
	char *out = calloc(1, cap);
	FILE *p;

	if (asprintf(&cmd, "tar --numeric-owner -tvf '%s' 2>&1", archive) < 0)
		exit(99);
	p = popen(cmd, "r");
	free(cmd);
	if (!p || !out)
		exit(99);
	while (fgets(line, sizeof(line), p)) {
		/* drwxr-xr-x 0/0 0 2026-11-25 21:40 name */
		char mode[16], owner[64], size[32], date[32], time[32];
		int at = 0;

		if (sscanf(line, "%15s %63s %31s %31s %31s %n", mode, owner, size, date, time,
			   &at) != 5 ||
		    at == 0) {
			len += (size_t)snprintf(out + len, cap - len, "?? %s", line);
			continue;
		}
		if (strcmp(owner, "0/0") != 0)
			len += (size_t)snprintf(out + len, cap - len, "owner %s! ", owner);
		len += (size_t)snprintf(out + len, cap - len, "%s %s", mode, line + at);
		if (len >= cap - 1)
			break;
	}
	if (pclose(p) != 0)
		len += (size_t)snprintf(out + len, cap - len, "(tar failed)\n");
	return out;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- dockerignore cases ---- */

struct case_ {
	const char *patterns;
	const char *path;
	bool excluded;
};

static const struct case_ cases[] = {
	{"*.log", "a.log", true},
	{"*.log", "dir/a.log", false}, /* '*' does not cross '/' */
	{"**/*.log", "dir/sub/a.log", true},
	{"**/*.log", "a.log", true},   /* "**" can be no directory at all */
	{"dir", "dir/sub/file", true}, /* a parent matches */
	{"dir/", "dir/file", true},    /* cleaned to "dir" */
	{"/dir", "dir/file", true},    /* leading '/' dropped */
	{"./dir//x/../file", "dir/file", true},
	{"# comment\n", "# comment", false},
	{"\\#file", "#file", true},
	{"  spaced  ", "spaced", true},
	{"?.txt", "a.txt", true},
	{"?.txt", "ab.txt", false},
	{"[a-c].txt", "b.txt", true},
	{"[^a-c].txt", "b.txt", false},
	{"[^a-c].txt", "d.txt", true},
	{"*\n!keep.log", "keep.log", false},
	{"*\n!keep.log", "other", true},
	{"*.log\n!keep.log\nkeep.log", "keep.log", true}, /* the last match decides */
	{"dir\n!dir/keep", "dir/keep", false},
	{"dir\n!dir/keep", "dir/other", true},
	{"node_modules/**", "node_modules/x/y", true},
	{"node_modules/**", "node_modules", false},
	{"a/**/b", "a/b", true},
	{"a/**/b", "a/x/y/b", true},
	{"a/**/b", "a/x/yb", false},
	{"**", "anything/at/all", true},
	{"", "x", false},
	{"\xef\xbb\xbf"
	 "bom",
	 "bom", true},
};

/* patterns on one line, for a TAP description: newlines shown as " | ". */
static const char *one_line(const char *s)
{
	static char buf[256];
	size_t o = 0;

	for (; *s && o + 4 < sizeof(buf); s++) {
		if (*s == '\n') {
			memcpy(buf + o, " | ", 3);
			o += 3;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

static void test_dockerignore(void)
{
	char err[256];
	dockerignore *di;
	int r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *c = &cases[i];
		r = dockerignore_parse(&di, c->patterns, strlen(c->patterns), err, sizeof(err));

		if (r != 0) {
			CHECK(false, "dockerignore parses \"%s\": %s", one_line(c->patterns), err);
			continue;
		}
		CHECK(dockerignore_excludes(di, c->path) == c->excluded, "\"%s\" %s \"%s\"",
		      one_line(c->patterns), c->excluded ? "excludes" : "keeps", c->path);
		dockerignore_free(di);
	}
	r = dockerignore_parse(&di, "ok\n[abc\n", 8, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "line 2"),
	      "an unterminated [ is refused with its line: %s", err);
	r = dockerignore_parse(&di, "!\n", 2, err, sizeof(err));
	CHECK(r == -EINVAL, "a lone ! is refused: %s", err);
	r = dockerignore_parse(&di, "dir\n!dir/keep/x\n", 16, err, sizeof(err));
	CHECK(r == 0 && dockerignore_may_include_below(di, "dir") &&
		      dockerignore_may_include_below(di, "dir/keep") &&
		      !dockerignore_may_include_below(di, "di"),
	      "an exception under an excluded dir makes the walk descend");
	dockerignore_free(di);
}

/* ---- archives ---- */

static const char expected[] =
	"-rw-r--r-- .dockerignore\n"
	"-rw-r--r-- Dockerfile\n"
	"drwxr-x--- app/\n"
	"-rwx------ app/run.sh\n"
	"-rw-r--r-- app/sub/deep.txt\n" /* app/sub itself is excluded, deep.txt re-included */
	"lrwxrwxrwx escape -> /etc/passwd\n"
	"lrwxrwxrwx etc -> /etc\n"
	"-rw-r--r-- index.html\n"
	"-rw-r--r-- keep.log\n"
	"drwxr-xr-x "
	"long-directory-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789/\n"
	"-rw-r--r-- "
	"long-directory-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789/"
	"long-file-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-"
	"0123456789.txt\n"
	"lrwxrwxrwx self -> index.html\n";

static int tar_test_write(void *user, const void *buf, size_t len)
{
	(void)user, (void)buf, (void)len;
	return -ENOSPC;
}

static void test_archive(void)
{
	const char *long_dir =
		"long-directory-name-0123456789-0123456789-0123456789-0123456789-0123456789-"
		"0123456789";
	char dir[600], archive[600], out[600], err[512], rel[1024];
	char *tar = NULL, *tar2 = NULL, *list, *content;
	size_t len = 0, len2 = 0;
	int r;

	snprintf(dir, sizeof(dir), "%s/ctx", tmp);
	snprintf(archive, sizeof(archive), "%s/ctx.tar", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	mkdirs("app/sub");
	mkdirs("tmp/cache");
	mkdirs(long_dir);
	put("Dockerfile", "FROM scratch\nCOPY . /\n", 0644);
	put(".dockerignore",
	    "# build junk\n"
	    "*.log\n"
	    "!keep.log\n"
	    "tmp\n"
	    "app/sub\n"
	    "!app/sub/deep.txt\n"
	    "Dockerfile\n"
	    "/secret*\n",
	    0644);
	put("index.html", "<h1>hi</h1>\n", 0644);
	put("debug.log", "noise\n", 0644);
	put("keep.log", "kept\n", 0644);
	put("secret.key", "do not send\n", 0600);
	put("tmp/cache/x", "cache\n", 0644);
	put("app/run.sh", "#!/bin/sh\necho run\n", 0700);
	put("app/sub/deep.txt", "deep\n", 0644);
	put("app/sub/other.txt", "excluded\n", 0644);
	snprintf(rel, sizeof(rel),
		 "%s/long-file-name-0123456789-0123456789-0123456789-0123456789-"
		 "0123456789-0123456789-0123456789.txt",
		 long_dir);
	put(rel, "long\n", 0644);
	symlink_at("index.html", "self");
	symlink_at("/etc/passwd", "escape");
	symlink_at("/etc", "etc");
	if (shell("chmod 0750 '%s/app' && mkfifo '%s/fifo'", dir, dir) != 0)
		exit(99);

	r = tar_context_buffer(&tar, &len, dir, NULL, 0, err, sizeof(err));
	CHECK(r == 0, "tar_context_buffer of a tree: %d %s", r, r ? err : "");
	if (r != 0)
		return;
	CHECK(len % 512 == 0 && len >= 1024, "archive is whole blocks (%zu bytes)", len);
	{
		unsigned long long measured = 0;
		int m = tar_context_measure(&measured, dir, NULL, err, sizeof(err));

		CHECK(m == 0 && measured == len,
		      "tar_context_measure gives the archive's size without reading (%llu)",
		      measured);
	}
	r = write_file(archive, tar, len);
	CHECK(r == 0, "archive written to %s", archive);
	list = listing(archive);
	r = strcmp(list, expected);
	CHECK(r == 0,
	      "tar -tvf lists exactly the kept entries, modes, links, long names, in order");
	if (r != 0)
		diag("got:\n%s", list);
	free(list);

	r = shell("mkdir -p '%s' && tar -xf '%s' -C '%s'", out, archive, out);
	CHECK(r == 0, "tar -xf extracts it");
	snprintf(rel, sizeof(rel), "%s/app/run.sh", out);
	content = slurp(rel);
	CHECK(content && strcmp(content, "#!/bin/sh\necho run\n") == 0, "file content round-trips");
	snprintf(rel, sizeof(rel),
		 "%s/%s/long-file-name-0123456789-0123456789-0123456789-0123456789-0123456789-"
		 "0123456789-0123456789.txt",
		 out, long_dir);
	content = slurp(rel);
	CHECK(content && strcmp(content, "long\n") == 0, "a long (pax) path round-trips");

	r = tar_context_buffer(&tar2, &len2, dir, NULL, 0, err, sizeof(err));
	CHECK(r == 0 && len2 == len && memcmp(tar, tar2, len) == 0,
	      "a second run gives the same bytes");
	free(tar2);

	r = tar_context_buffer(&tar2, &len2, dir, NULL, 1024, err, sizeof(err));
	CHECK(r == -EFBIG && strstr(err, "larger than 1024"), "max_len is enforced: %s", err);

	r = tar_context_write(dir, NULL, tar_test_write, NULL, err, sizeof(err));
	CHECK(r == -ENOSPC, "a failing writer's error is returned: %s", err);
	free(tar);
}

static void test_errors(void)
{
	struct tar_context_options o = {.dockerfile = "../Dockerfile"};
	char dir[600], err[512], *tar;
	size_t len;
	int r;

	snprintf(dir, sizeof(dir), "%s/ctx", tmp);
	r = tar_context_buffer(&tar, &len, dir, &o, 0, err, sizeof(err));
	CHECK(r == -EINVAL, "a Dockerfile path leaving the dir is refused: %s", err);
	o.dockerfile = "/etc/passwd";
	r = tar_context_buffer(&tar, &len, dir, &o, 0, err, sizeof(err));
	CHECK(r == -EINVAL, "an absolute Dockerfile path is refused: %s", err);
	o.dockerfile = "app/Dockerfile.prod";
	r = tar_context_buffer(&tar, &len, dir, &o, 0, err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, "app/Dockerfile.prod"), "a missing Dockerfile: %s", err);
	snprintf(dir, sizeof(dir), "%s/none", tmp);
	r = tar_context_buffer(&tar, &len, dir, NULL, 0, err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, dir), "a missing directory: %s", err);

	snprintf(dir, sizeof(dir), "%s/bad", tmp);
	mkdirs("../bad");
	put("../bad/Dockerfile", "FROM scratch\n", 0644);
	put("../bad/.dockerignore", "ok\n[oops\n", 0644);
	r = tar_context_buffer(&tar, &len, dir, NULL, 0, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "line 2"), "a bad .dockerignore: %s", err);
}

int main(void)
{
	int rc;

	if (shell("tar --version >/dev/null 2>&1") != 0)
		skip_all("test-tar-context: SKIP: no tar(1) to check archives with");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	if (shell("mkdir '%s/ctx'", tmp) != 0)
		return 99;

	test_dockerignore();
	test_archive();
	test_errors();

	rc = DONE();
	if (rc == 0 && shell("rm -rf '%s'", tmp) != 0)
		diag("could not remove %s", tmp);
	return rc;
}
