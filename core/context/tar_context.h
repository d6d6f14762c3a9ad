/* core/context: a Docker build context — a directory as a tar archive,
 * honouring its .dockerignore (see dockerignore.h for the rules).
 *
 * The archive is POSIX ustar; a path or link target too long for ustar, or a
 * file of 8 GiB or more, gets a POSIX pax extended header ('x'), as Docker's
 * own client writes them. Entries:
 *  - regular files (hard links are stored as separate copies), directories
 *    (names end in '/') and symbolic links (stored as links, never followed);
 *    sockets, FIFOs and device nodes are skipped;
 *  - permission bits as on disk (mode & 07777), mtime as on disk, owner
 *    0:0 with no user/group names (Docker's client does the same);
 *  - paths relative to the directory, in a stable order: each directory's
 *    entries sorted bytewise, the directory before what it holds.
 * Nothing outside the directory is ever read: the walk opens every entry
 * relative to its parent with O_NOFOLLOW, so neither a symlink nor a rename
 * during the walk can lead it out.
 * The Dockerfile and .dockerignore are always sent, even when .dockerignore
 * excludes them (as Docker's client does), and the Dockerfile must exist.
 *
 * Thread-safety: the functions keep no state; several may run at once. */
#ifndef NAP_CONTEXT_TAR_CONTEXT_H
#define NAP_CONTEXT_TAR_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Deepest directory nesting walked; deeper fails with -ELOOP. */
#define TAR_CONTEXT_MAX_DEPTH 128
/* Longest relative path in the archive; longer fails with -ENAMETOOLONG. */
#define TAR_CONTEXT_MAX_PATH 4096

/* Receives the archive in pieces, in order. Returns 0, or a negative errno
 * to stop (tar_context_write() then returns it). */
typedef int (*tar_context_write_fn)(void *user, const void *buf, size_t len);

struct tar_context_options {
	/* The Dockerfile's path inside the directory; NULL: "Dockerfile". It
	 * must be relative and stay inside (no ".." component). */
	const char *dockerfile;
};

/* Writes the archive of directory dir through write(). opts may be NULL.
 * Returns 0; or a negative errno with a message in err: -ENOENT (dir or the
 * Dockerfile does not exist), -ENOTDIR, -EINVAL (bad Dockerfile path, bad
 * .dockerignore), -EACCES and other errors from reading the directory,
 * -ENAMETOOLONG, -ELOOP (see the limits above), -ENOMEM, or write()'s. A
 * failed write may leave a partial archive written. */
int tar_context_write(const char *dir, const struct tar_context_options *opts,
		      tar_context_write_fn write, void *user, char *err, size_t errlen);

/* The size tar_context_write() would write now, found by the same walk
 * without reading any file: every entry is opened as it would be (so a file
 * or directory the caller cannot read fails here, with the same errors),
 * only its contents are not read. On success *sizep is the archive's size in
 * bytes; it stays true while the directory does not change. */
int tar_context_measure(unsigned long long *sizep, const char *dir,
			const struct tar_context_options *opts, char *err, size_t errlen);

/* Like tar_context_write(), into memory. On success *tarp is the archive
 * (*lenp bytes; the caller frees it with free()). max_len bounds its size
 * (0: no bound); a larger context fails with -EFBIG. */
int tar_context_buffer(char **tarp, size_t *lenp, const char *dir,
		       const struct tar_context_options *opts, size_t max_len, char *err,
		       size_t errlen);

#endif
