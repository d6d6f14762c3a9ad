#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msgq.h"

void msgq_init(struct msgq *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->bytes = 0;
	q->count = 0;
}

int msgq_push(struct msgq *q, const uint8_t *data, size_t len)
{
	struct msgq_item *m = malloc(sizeof(*m) + len + 1);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	if (len)
		memcpy(m->data, data, len);
	*q->tail = m;
	q->tail = &m->next;
	q->bytes += len;
	q->count++;
	return 0;
}

struct msgq_item *msgq_pop(struct msgq *q)
{
	struct msgq_item *m = q->head;
	if (!m)
		return NULL;
	q->head = m->next;
	if (!q->head)
		q->tail = &q->head;
	q->bytes -= m->len;
	q->count--;
	return m;
}

void msgq_clear(struct msgq *q)
{
	struct msgq_item *m;
	while ((m = msgq_pop(q)))
		free(m);
}
