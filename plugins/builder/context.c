/* plugins/builder: the build context a Build uses, as a spool reader — the
 * one an Upload holds (BuildRequest.context_id), whole or still arriving,
 * or, only with the setting allow_path_context, a directory the request
 * names, which the builder (root) then packs itself into its spool, as nap
 * 0.1 did for every build. Either way the file is out of the spool once
 * taken: the build's end (closing the reader) deletes it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nap/builder.pb-c.h>
#include <nap/limits.h>

#include "builder.h"
#include "context.h"
#include "names.h"
#include "spool.h"
#include "tar_context.h"

/* The old checks of a directory a request names; ends the call and returns
 * false when one fails. */
static bool dir_ok(const struct builder *b, nap_plugin_call *call, const char *dir)
{
	char shown[80], path[PATH_MAX];
	struct stat st;
	int n;

	if (dir[0] != '/') {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "build directory \"%s\" is not an absolute path: give the full path",
			     builder_printable(shown, sizeof(shown), dir));
		return false;
	}
	if (strlen(dir) > NAP_PATH_MAX) {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "build directory path of %zu bytes: the limit is %u (NAP_PATH_MAX)",
			     strlen(dir), NAP_PATH_MAX);
		return false;
	}
	if (stat(dir, &st) < 0) {
		b->host->end(call, NAP_FAILED_PRECONDITION, "cannot use build directory %s: %s",
			     dir, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		b->host->end(call, NAP_FAILED_PRECONDITION, "%s is not a directory", dir);
		return false;
	}
	n = snprintf(path, sizeof(path), "%s/Dockerfile", dir);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		b->host->end(call, NAP_FAILED_PRECONDITION,
			     "no Dockerfile in %s: a build directory needs one", dir);
		return false;
	}
	return true;
}

static int spool_sink(void *user, const void *buf, size_t len)
{
	return spool_upload_write(user, buf, len, NULL, 0);
}

/* Packs dir into the spool and takes it; ends the call and returns -1 if
 * it cannot. */
static int pack_dir(struct spool_reader **rp, uint64_t *sizep, const struct builder *b,
		    nap_plugin_call *call, const char *app, const char *dir)
{
	struct spool_upload *u = NULL;
	char id[SPOOL_ID_LEN + 1], err[512] = "";
	unsigned long long size;
	int r;

	if (!dir_ok(b, call, dir))
		return -1;
	r = tar_context_measure(&size, dir, NULL, err, sizeof(err));
	if (r == 0)
		r = spool_upload_start(&u, id, b->spool, app, size, err, sizeof(err));
	if (r == 0) {
		r = tar_context_write(dir, NULL, spool_sink, u, err, sizeof(err));
		if (r < 0)
			spool_upload_abort(u);
		else
			r = spool_upload_finish(u, err, sizeof(err));
	}
	if (r == 0)
		r = spool_take(rp, sizep, b->spool, id, app);
	if (r == 0)
		return 0;
	if (r == -EFBIG)
		b->host->end(call, NAP_FAILED_PRECONDITION,
			     "the build context %s is larger than %llu MiB: list what the image "
			     "does not need in its .dockerignore",
			     dir, (unsigned long long)(spool_max_bytes(b->spool) >> 20));
	else if (r == -ENOMEM)
		b->host->end(call, NAP_RESOURCE_EXHAUSTED, "out of memory while reading %s", dir);
	else
		b->host->end(call, NAP_FAILED_PRECONDITION, "cannot send %s to Docker: %s", dir,
			     err[0] ? err : strerror(-r));
	return -1;
}

int builder_context_take(struct spool_reader **rp, uint64_t *sizep, const struct builder *b,
			 nap_plugin_call *call, const Nap__BuildRequest *req)
{
	bool has_id = req->context_id && *req->context_id;
	bool has_dir = req->dir && *req->dir;
	int r;

	if (has_id && has_dir) {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "a build takes a context_id or a dir, not both");
		return -1;
	}
	if (has_dir && !b->allow_path_context) {
		b->host->end(call, NAP_FAILED_PRECONDITION, "%s", BUILDER_PATH_REFUSED);
		return -1;
	}
	if (has_dir)
		return pack_dir(rp, sizep, b, call, req->app, req->dir);
	if (!has_id) {
		b->host->end(call, NAP_INVALID_ARGUMENT,
			     "no build context: upload one with nap.Builder.Upload and name it "
			     "in context_id (napc deploy does both)");
		return -1;
	}
	r = spool_take(rp, sizep, b->spool, req->context_id, req->app);
	if (r == -EPERM) {
		b->host->end(call, NAP_PERMISSION_DENIED,
			     "build context %.40s was uploaded for another app", req->context_id);
		return -1;
	}
	if (r < 0) {
		b->host->end(call, NAP_FAILED_PRECONDITION,
			     "no build context %.40s here: a context is used once, kept %u "
			     "minutes, and gone if its upload failed; deploy again (napc uploads "
			     "it anew)",
			     req->context_id, SPOOL_IDLE_MS / 60000);
		return -1;
	}
	return 0;
}
