/* napc: what --host and $NAP_HOST name. ssh://[USER@]HOST[:PORT][/SOCKET]
 * reaches napd through ssh (remote.c); unix:///PATH and a plain path name a
 * local socket, as --socket does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "napc.h"

/* sun_path's size, with its terminating NUL. */
#define NAPC_SOCKET_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

#define HOST_FORMS "use ssh://[USER@]HOST[:PORT][/SOCKET], unix:///PATH or a socket path"

static char *dup_range(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort(); /* napc's own code: out of memory ends it */
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A user or host name that ssh could take for an option, or that holds
 * what no name holds, is refused here rather than handed to ssh. */
static bool name_ok(const char *s)
{
	if (!*s || *s == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("/@'\"\\`$;&|<>()", *p))
			return false;
	return true;
}

static int bad(const char *source, const char *url, const char *what)
{
	fprintf(stderr, "napc: %s '%s': %s; " HOST_FORMS "\n", source, url, what);
	return NAPC_EXIT_USAGE;
}

static int parse_ssh(struct napc_host *h, const char *source, const char *url)
{
	const char *p = url + strlen("ssh://");
	const char *end = p + strcspn(p, "/");
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		h->user = dup_range(p, (size_t)(at - p));
		if (!name_ok(h->user))
			return bad(source, url, "the user name before '@' is empty or not a name");
		p = at + 1;
	}
	const char *port = NULL;
	if (*p == '[') { /* [IPv6 address] */
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close)
			return bad(source, url, "an IPv6 address in [ ] lacks its ']'");
		h->host = dup_range(p + 1, (size_t)(close - p - 1));
		if (close + 1 < end && close[1] != ':')
			return bad(source, url, "after ']' only ':PORT' may follow");
		port = close + 1 < end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		h->host = dup_range(p, (size_t)((colon ? colon : end) - p));
		port = colon ? colon + 1 : NULL;
	}
	if (!name_ok(h->host))
		return bad(source, url, "the host is empty or not a host name");
	if (port) {
		char *e;
		unsigned long v = strtoul(port, &e, 10);
		if (port == end || e != end || v == 0 || v > 65535 || *port < '0' || *port > '9')
			return bad(source, url, "the port is not a number from 1 to 65535");
		h->port = dup_range(port, (size_t)(end - port));
	}
	if (end[0] && end[1]) {
		/* The rest is napd's socket on the server, an absolute path
		 * (a lone "/" is none: the server's default). */
		if (strlen(end) >= NAPC_SOCKET_PATH_MAX)
			return bad(source, url, "the socket path is longer than a socket's can be");
		h->socket = dup_range(end, strlen(end));
	}
	h->ssh = true;
	return 0;
}

int napc_host_parse(struct napc_host *h, const char *source, const char *url)
{
	*h = (struct napc_host){.url = url};
	if (!*url)
		return bad(source, url, "empty");
	if (strncmp(url, "ssh://", 6) == 0)
		return parse_ssh(h, source, url);
	if (strncmp(url, "unix://", 7) == 0) {
		if (url[7] != '/')
			return bad(source, url, "unix:// takes an absolute path (three slashes)");
		h->socket = dup_range(url + 7, strlen(url + 7));
		return 0;
	}
	if (strstr(url, "://"))
		return bad(source, url, "napc speaks ssh:// and unix:// only");
	h->socket = dup_range(url, strlen(url));
	return 0;
}

void napc_host_clear(struct napc_host *h)
{
	free(h->user);
	free(h->host);
	free(h->port);
	free(h->socket);
	*h = (struct napc_host){0};
}
