/* plugins/builder: the spool of uploaded build contexts.
 *
 * nap.Builder.Upload writes the tar archive a client sends into a file of
 * its own here (mode 0600, named <id>.tar in the spool directory, which is
 * 0700), and answers the context's id: 32 hex digits, 128 random bits, so
 * that only the uploader can name it. A Build then takes the context by id,
 * once. A file is deleted:
 *  - when its upload is abandoned (cancelled, failed, the caller gone):
 *    spool_upload_abort();
 *  - when a build takes it: spool_take() unlinks it at once and hands over
 *    an open descriptor, so the data goes when the build closes it, even if
 *    the builder dies;
 *  - when it was not taken within SPOOL_IDLE_MS: spool_sweep(), which the
 *    sweeper thread calls every SPOOL_SWEEP_MS;
 *  - when the spool opens (what an earlier builder process left cannot be
 *    named by anyone: ids live in memory) and when it closes.
 *
 * Thread-safety: every function may be called from any thread; an upload
 * handle belongs to one thread. */
#ifndef NAP_BUILDER_SPOOL_H
#define NAP_BUILDER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <nap/limits.h>

/* Hex digits of a context id (128 bits). */
#define SPOOL_ID_LEN NAP_CONTEXT_ID_LEN
/* A kept context not taken within this is deleted. */
#define SPOOL_IDLE_MS (10u * 60 * 1000)
/* How often the sweeper looks. */
#define SPOOL_SWEEP_MS (30u * 1000)

struct spool;
struct spool_upload;

/* Opens the spool in dir (made 0700 with its parents if missing), deleting
 * any context file an earlier process left there. max_bytes bounds one
 * context. Starts the sweeper thread unless sweep_ms is 0. Returns 0, or a
 * negative errno with one line in err. */
int spool_open(struct spool **sp, const char *dir, uint64_t max_bytes, uint32_t sweep_ms, char *err,
	       size_t errlen);

/* Stops the sweeper, deletes every kept context and frees s (NULL is
 * fine). No upload may be running. */
void spool_close(struct spool *s);

/* The bound on one context, in bytes. */
uint64_t spool_max_bytes(const struct spool *s);

/* Starts writing a context of size bytes for app. Returns 0; -EFBIG when
 * size is past the bound; another negative errno with one line in err. */
int spool_upload_start(struct spool_upload **up, struct spool *s, const char *app, uint64_t size,
		       char *err, size_t errlen);

/* Appends len bytes. Returns 0; -EFBIG when they go past the announced
 * size; another negative errno (a full disk: -ENOSPC) with one line in err.
 * After a failure, only spool_upload_abort() is left to call. */
int spool_upload_write(struct spool_upload *u, const void *data, size_t len, char *err,
		       size_t errlen);

/* Bytes written so far. */
uint64_t spool_upload_size(const struct spool_upload *u);

/* Keeps the context and writes its id (SPOOL_ID_LEN hex digits and a NUL).
 * Returns 0; or -EPROTO when fewer bytes came than announced (the file is
 * then deleted). Frees u either way. */
int spool_upload_finish(struct spool_upload *u, char id[SPOOL_ID_LEN + 1], char *err,
			size_t errlen);

/* Deletes the file and frees u (NULL is fine). */
void spool_upload_abort(struct spool_upload *u);

/* Takes the context id uploaded for app: *fdp is its file, open for
 * reading at offset 0 (the caller closes it), *sizep its size; the file is
 * no longer in the spool. Returns 0; -ENOENT when no such context is kept
 * (never uploaded, already used, or swept); -EPERM when it was uploaded for
 * another app. */
int spool_take(int *fdp, uint64_t *sizep, struct spool *s, const char *id, const char *app);

/* Deletes the kept contexts last touched before now_ms - SPOOL_IDLE_MS
 * (now_ms on spool_now_ms()'s clock); returns how many. */
size_t spool_sweep(struct spool *s, uint64_t now_ms);

/* Kept contexts (not counting uploads under way). */
size_t spool_count(struct spool *s);

/* The monotonic clock the spool uses, in milliseconds. */
uint64_t spool_now_ms(void);

#endif
