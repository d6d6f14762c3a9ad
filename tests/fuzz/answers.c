/* Fuzz helpers: splits a fuzz input into a server's answers (answers.h). */
#include "config.h"

#include "answers.h"

#include <stdlib.h>
#include <string.h>

#define SEP "\n===\n"

static const char *cur, *end;
static char *last_request;

void answers_reset(const uint8_t *data, size_t size)
{
	cur = (const char *)data;
	end = data ? cur + size : NULL;
	free(last_request);
	last_request = NULL;
}

static const char *find_sep(const char *p, const char *e)
{
	size_t n = strlen(SEP);

	for (; p && (size_t)(e - p) >= n; p++) {
		p = memchr(p, '\n', (size_t)(e - p));
		if (!p || (size_t)(e - p) < n)
			return NULL;
		if (memcmp(p, SEP, n) == 0)
			return p;
	}
	return NULL;
}

bool answers_next(struct answer *a)
{
	const char *sep, *p, *stop;

	if (!cur)
		return false;
	sep = find_sep(cur, end);
	stop = sep ? sep : end;
	p = cur;
	a->status = 200;
	if (stop - p >= 4 && p[0] >= '1' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && (p[3] == ' ' || p[3] == '\n')) {
		a->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 4;
	}
	a->body = p;
	a->len = (size_t)(stop - p);
	cur = sep ? sep + strlen(SEP) : NULL;
	return true;
}

const char *answers_last_request(void)
{
	return last_request;
}

void answers_set_last_request(const void *body, size_t len)
{
	if (!body)
		return; /* a request without a body (GET, a start) keeps the last one */
	free(last_request);
	last_request = NULL;
	last_request = malloc(len + 1);
	if (last_request) {
		memcpy(last_request, body, len);
		last_request[len] = '\0';
	}
}
