#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int nap_buf_reserve(nap_buf *b, size_t n)
{
	if (nap_buf_room(b) >= n)
		return 0;
	/* Slide unread data to the front before growing: most of the time the
	 * buffer is nearly empty and this avoids any allocation. */
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, b->len);
		b->start = 0;
		if (nap_buf_room(b) >= n)
			return 0;
	}
	/* Doubling keeps appends cheap; a big reservation (a large frame's
	 * whole body) gets exactly what it asks for. */
	if (n > SIZE_MAX - b->len)
		return -ENOMEM;
	size_t cap = b->cap ? b->cap : 2048;
	cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap < b->len + n)
		cap = b->len + n;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void nap_buf_consume(nap_buf *b, size_t n)
{
	if (n >= b->len) {
		b->start = 0;
		b->len = 0;
		return;
	}
	b->start += n;
	b->len -= n;
}

int nap_buf_append(nap_buf *b, const void *p, size_t n)
{
	int r = n < SIZE_MAX ? nap_buf_reserve(b, n + 1) : -ENOMEM;
	if (r < 0)
		return r;
	if (n) /* p may be NULL for n == 0 */
		memcpy(nap_buf_tail(b), p, n);
	b->len += n;
	*nap_buf_tail(b) = '\0'; /* the room for it was reserved */
	return 0;
}

char *nap_buf_steal(nap_buf *b)
{
	char *text;

	if (!b->data)
		return NULL;
	/* The NUL after the data moves with it: room for it was reserved by
	 * the append that wrote it; a buffer filled through nap_buf_tail()
	 * gets one here. */
	if (nap_buf_room(b) == 0 && nap_buf_reserve(b, 1) < 0)
		return NULL;
	memmove(b->data, b->data + b->start, b->len);
	b->data[b->len] = '\0';
	text = (char *)b->data;
	*b = (nap_buf){0};
	return text;
}

void nap_buf_release(nap_buf *b)
{
	free(b->data);
	*b = (nap_buf){0};
}
