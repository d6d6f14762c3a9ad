/* plugins/common: a growable byte buffer (HTTP bodies, stream lines, tar
 * archives in memory). Not thread-safe: one owner at a time. */
#ifndef NAP_PLUGIN_COMMON_BYTEBUF_H
#define NAP_PLUGIN_COMMON_BYTEBUF_H

#include <stddef.h>

/* Zero-initialise ({0}) before use. data is NUL-terminated whenever it is
 * not NULL (the NUL is not counted in len), so text can be read in place. */
struct bytebuf {
	char *data;
	size_t len;
	size_t cap;
};

/* Appends n bytes. Returns 0, or -ENOMEM (b is unchanged). */
int bytebuf_append(struct bytebuf *b, const void *p, size_t n);

/* Drops the first n bytes (all of them if n >= len). */
void bytebuf_consume(struct bytebuf *b, size_t n);

/* Hands the data over: returns it (the caller frees it with free()) and
 * leaves b empty. Returns NULL if b never held anything. */
char *bytebuf_steal(struct bytebuf *b);

/* Frees the data and empties b. */
void bytebuf_release(struct bytebuf *b);

#endif
