/* A growable byte buffer with a read offset, for connection input/output. */
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
int nap_buf_append(nap_buf *b, const void *p, size_t n);
void nap_buf_release(nap_buf *b);

#endif
