/* napd: its id (see identity.h). */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "identity.h"

static char id[380]; /* host (255) ":" socket path (at most 108) */

void identity_init(const char *socket_path)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(id, sizeof(id), "%.255s:%.108s", host, socket_path);
}

const char *identity(void)
{
	return id;
}
