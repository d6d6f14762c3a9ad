/* A first-in first-out queue of messages as bytes, each one malloc'd at its
 * size: what the plugin host's loop thread received for a handler thread
 * that takes them at its own pace (the replies of a streaming call a plugin
 * made, the request stream of a call it serves). It counts what it holds
 * so that whoever fills it can bound it. Not thread-safe: the host's lock
 * guards it. */
#ifndef NAPD_MSGQ_H
#define NAPD_MSGQ_H

#include <stddef.h>
#include <stdint.h>

struct msgq_item {
	struct msgq_item *next;
	size_t len;
	uint8_t data[];
};

struct msgq {
	struct msgq_item *head, **tail;
	size_t bytes; /* sum of the items' len */
	size_t count;
};

void msgq_init(struct msgq *q);
/* Appends a copy of data; 0 or -ENOMEM. */
int msgq_push(struct msgq *q, const uint8_t *data, size_t len);
/* The oldest item (free() it), or NULL when empty. */
struct msgq_item *msgq_pop(struct msgq *q);
/* Frees everything queued. */
void msgq_clear(struct msgq *q);

#endif
