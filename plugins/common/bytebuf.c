/* plugins/common: the growable byte buffer. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "bytebuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* First allocation; the buffer doubles from there. */
#define BYTEBUF_MIN_CAP 1024

int bytebuf_append(struct bytebuf *b, const void *p, size_t n)
{
	if (n >= SIZE_MAX - b->len)
		return -ENOMEM;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : BYTEBUF_MIN_CAP;
		char *d;

		while (cap < b->len + n + 1) {
			if (cap > SIZE_MAX / 2) {
				cap = b->len + n + 1;
				break;
			}
			cap *= 2;
		}
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void bytebuf_consume(struct bytebuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

char *bytebuf_steal(struct bytebuf *b)
{
	char *d = b->data;

	*b = (struct bytebuf){0};
	return d;
}

void bytebuf_release(struct bytebuf *b)
{
	free(b->data);
	*b = (struct bytebuf){0};
}
