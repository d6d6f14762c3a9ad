/* A growable byte buffer with a read offset: libnap's connection input and
 * output, and (compiled into plugins/common) the plugins' HTTP bodies,
 * stream lines and archives in memory. Zero-initialise it ({0}) before use.
 * After nap_buf_append() the data is followed by a NUL byte (not counted in
 * len), so text can be read in place (nap_buf_text()). Not thread-safe. */
#ifndef NAP_BUF_H
#define NAP_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct nap_buf {
	uint8_t *data;
	size_t start; /* first unread byte */
	size_t len;   /* bytes after start */
	size_t cap;
} nap_buf;

/* Makes room for at least n more bytes after the data; 0 or -ENOMEM. */
int nap_buf_reserve(nap_buf *b, size_t n);
/* Pointer to the free space after the data (valid until the next reserve). */
static inline uint8_t *nap_buf_tail(nap_buf *b)
{
	return b->data + b->start + b->len;
}
static inline size_t nap_buf_room(const nap_buf *b)
{
	return b->cap - b->start - b->len;
}
static inline uint8_t *nap_buf_head(nap_buf *b)
{
	return b->data + b->start;
}
/* Drops n bytes from the front. */
void nap_buf_consume(nap_buf *b, size_t n);
/* Appends n bytes and a NUL after them; 0 or -ENOMEM (b is unchanged). */
int nap_buf_append(nap_buf *b, const void *p, size_t n);
/* The unread data as text ("" for a buffer that never held any). */
static inline const char *nap_buf_text(const nap_buf *b)
{
	return b->data ? (const char *)b->data + b->start : "";
}
/* Hands the unread data over, NUL-terminated: the caller frees it with
 * free(); b is left empty. NULL if b never held anything (or, with b left
 * as it was, if there was no room for the NUL and none could be had). */
char *nap_buf_steal(nap_buf *b);
void nap_buf_release(nap_buf *b);

#endif
