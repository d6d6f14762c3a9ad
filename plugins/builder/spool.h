/* plugins/builder: the spool of uploaded build contexts.
 *
 * nap.Builder.Upload writes the tar archive a client sends into a file of
 * its own here (mode 0600, named <id>.tar in the spool directory, which is
 * 0700). The context's id (32 hex digits, 128 random bits, so that only the
 * uploader can name it) is made when the upload starts and answered at
 * once, so that the client can start its Deploy while it still sends: a
 * Build may take a context whose upload is under way and read it as it
 * grows (spool_read() waits for more), which overlaps the upload with
 * Docker's receiving of it. A context is taken once. A file is deleted:
 *  - when its upload is abandoned (cancelled, failed, the caller gone):
 *    spool_upload_abort(), and a build reading it gets -EPIPE;
 *  - when a build takes it: spool_take() unlinks it at once and keeps it
 *    open, so the data goes when the build closes its reader, even if the
 *    builder dies;
 *  - when a whole context was not taken within SPOOL_IDLE_MS: spool_sweep(),
 *    which the sweeper thread calls every SPOOL_SWEEP_MS;
 *  - when the spool opens (what an earlier builder process left cannot be
 *    named by anyone: ids live in memory) and when it closes.
 *
 * Thread-safety: every function may be called from any thread; an upload
 * handle and a reader each belong to one thread. */
#ifndef NAP_BUILDER_SPOOL_H
#define NAP_BUILDER_SPOOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nap/limits.h>

/* Hex digits of a context id (128 bits). */
#define SPOOL_ID_LEN NAP_CONTEXT_ID_LEN
/* A kept context not taken within this is deleted. */
#define SPOOL_IDLE_MS (10u * 60 * 1000)
/* How often the sweeper looks. */
#define SPOOL_SWEEP_MS (30u * 1000)

struct spool;
struct spool_upload;
struct spool_reader;

/* Opens the spool in dir (made 0700 with its parents if missing), deleting
 * any context file an earlier process left there. max_bytes bounds one
 * context. Starts the sweeper thread unless sweep_ms is 0. Returns 0, or a
 * negative errno with one line in err. */
int spool_open(struct spool **sp, const char *dir, uint64_t max_bytes, uint32_t sweep_ms, char *err,
	       size_t errlen);

/* Stops the sweeper, deletes every context it holds and frees s (NULL is
 * fine). No upload or reader may be left. */
void spool_close(struct spool *s);

/* The bound on one context, in bytes. */
uint64_t spool_max_bytes(const struct spool *s);

/* Starts writing a context of size bytes for app, and writes its id
 * (SPOOL_ID_LEN hex digits and a NUL): from now on a build may take it.
 * Returns 0; -EFBIG when size is past the bound; another negative errno
 * with one line in err. */
int spool_upload_start(struct spool_upload **up, char id[SPOOL_ID_LEN + 1], struct spool *s,
		       const char *app, uint64_t size, char *err, size_t errlen);

/* Appends len bytes. Returns 0; -EFBIG when they go past the announced
 * size; another negative errno (a full disk: -ENOSPC) with one line in err.
 * After a failure, only spool_upload_abort() is left to call. */
int spool_upload_write(struct spool_upload *u, const void *data, size_t len, char *err,
		       size_t errlen);

/* Bytes written so far. */
uint64_t spool_upload_size(const struct spool_upload *u);

/* The context is whole. Returns 0; or -EPROTO when fewer bytes came than
 * announced (the context is then deleted, as by spool_upload_abort()).
 * Frees u either way. */
int spool_upload_finish(struct spool_upload *u, char *err, size_t errlen);

/* Deletes the context (a build reading it gets -EPIPE) and frees u (NULL
 * is fine). */
void spool_upload_abort(struct spool_upload *u);

/* Takes the context id uploaded for app, whole or still arriving: *rp
 * reads it from its start, *sizep is its announced size; it is no longer
 * in the spool. Returns 0; -ENOENT when no such context is held (never
 * uploaded, already taken, abandoned or swept); -EPERM when it was uploaded
 * for another app. */
int spool_take(struct spool_reader **rp, uint64_t *sizep, struct spool *s, const char *id,
	       const char *app);

/* Reads up to len bytes of a taken context, waiting while its upload is
 * behind. Returns how many; 0 at its end; -EPIPE when its upload failed or
 * was abandoned; -ECANCELED once *cancel (may be NULL) is set, looked at
 * every 100 ms while waiting; -EIO for a read error. */
ssize_t spool_read(struct spool_reader *r, void *buf, size_t len, const atomic_int *cancel);

/* Closes a reader (NULL is fine): the file's data goes. */
void spool_reader_close(struct spool_reader *r);

/* Deletes the whole contexts not taken since now_ms - SPOOL_IDLE_MS
 * (now_ms on spool_now_ms()'s clock); returns how many. */
size_t spool_sweep(struct spool *s, uint64_t now_ms);

/* Contexts held, whole or arriving (not counting taken ones). */
size_t spool_count(struct spool *s);

/* The monotonic clock the spool uses, in milliseconds. */
uint64_t spool_now_ms(void);

#endif
