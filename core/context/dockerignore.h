/* core/context: .dockerignore patterns, matched as the Docker CLI matches
 * them when it sends a build context.
 *
 * File format (Docker's rules): one pattern a line; a line starting with '#'
 * is a comment; surrounding whitespace is trimmed; empty lines are skipped;
 * a leading '!' makes an exception (re-includes what earlier patterns
 * excluded); each pattern is cleaned like a path ("./a//b/" is "a/b", ".."
 * resolved) and a leading '/' is dropped, so patterns are relative to the
 * context's root.
 *
 * Pattern syntax (that of Docker's pattern matcher):
 *   *      any run of characters other than '/'
 *   ?      one character other than '/'
 *   **     any number of whole directories, including none ("**" + "/" is the
 *          same); at the end of a pattern: anything at all
 *   [a-z]  [^a-z]   a character class (may match '/', as in Go's regexp)
 *   \x     the character x itself
 * A pattern must match the whole path; a path is also excluded when a
 * pattern matches one of its parent directories. The last pattern that
 * matches decides. One deviation: Docker matches "**foo" (no '/' after the
 * "**") as a plain suffix ("xfoo" matches); here it means "(dirs/)foo".
 *
 * A dockerignore is immutable once built, so it may be read from several
 * threads at once. */
#ifndef NAP_CONTEXT_DOCKERIGNORE_H
#define NAP_CONTEXT_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dockerignore dockerignore;

/* Parses the text of a .dockerignore (len bytes, need not be
 * NUL-terminated; an empty text gives a set that excludes nothing). On
 * success *dip is the pattern set, freed with dockerignore_free(). Returns
 * 0, -EINVAL for a malformed pattern (an unterminated "[", with its line
 * number in err), or -ENOMEM. */
int dockerignore_parse(dockerignore **dip, const char *text, size_t len, char *err, size_t errlen);

/* Appends one pattern, as a line of the file would be (a leading '!' makes
 * an exception). Returns 0, -EINVAL or -ENOMEM. Not for a set other
 * threads are reading. */
int dockerignore_add(dockerignore *di, const char *pattern, char *err, size_t errlen);

/* Frees di (NULL is fine); returns NULL. */
dockerignore *dockerignore_free(dockerignore *di);

/* True if path (relative to the context root, '/'-separated, no "./" or
 * trailing '/') is excluded from the context. */
bool dockerignore_excludes(const dockerignore *di, const char *path);

/* For an excluded directory dir: true if an exception pattern could
 * re-include something below it, so the walk must still descend into it
 * (Docker's rule: an exception pattern that starts with "dir/"). */
bool dockerignore_may_include_below(const dockerignore *di, const char *dir);

#endif
