/* fake-ctl: sends one command to a fake plugin's control socket (see
 * fake-control.h) and prints the reply, for the shell tests.
 *
 *   fake-ctl SOCKET WORD...
 *
 * The data lines go to stdout. Exit status: 0 after "OK", 1 after
 * "ERR <why>" (the reason goes to stderr), 2 when the socket cannot be
 * reached or the reply is cut short. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (1u << 20)

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char line[1100] = "";
	struct timeval tv = {5, 0};

	if (argc < 3) {
		fprintf(stderr, "usage: fake-ctl SOCKET WORD...\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "fake-ctl: %s: path too long\n", argv[1]);
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	for (int i = 2; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 >= sizeof line) {
			fprintf(stderr, "fake-ctl: command too long\n");
			return 2;
		}
		strcat(line, argv[i]);
		strcat(line, i + 1 < argc ? " " : "\n");
	}
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "fake-ctl: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		fprintf(stderr, "fake-ctl: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	shutdown(fd, SHUT_WR);
	char *reply = malloc(REPLY_MAX + 1);
	size_t have = 0;
	ssize_t n;
	if (!reply)
		return 2;
	while (have < REPLY_MAX && (n = read(fd, reply + have, REPLY_MAX - have)) > 0)
		have += (size_t)n;
	close(fd);
	reply[have] = '\0';
	/* The last line is the status. */
	if (have == 0 || reply[have - 1] != '\n') {
		fprintf(stderr, "fake-ctl: %s: the reply was cut short\n", argv[1]);
		free(reply);
		return 2;
	}
	reply[--have] = '\0';
	char *status = strrchr(reply, '\n');
	status = status ? status + 1 : reply;
	fwrite(reply, 1, (size_t)(status - reply), stdout);
	int rc = 2;
	if (strcmp(status, "OK") == 0)
		rc = 0;
	else if (strncmp(status, "ERR ", 4) == 0) {
		fprintf(stderr, "fake-ctl: %s\n", status + 4);
		rc = 1;
	} else {
		fprintf(stderr, "fake-ctl: unexpected reply: %s\n", status);
	}
	free(reply);
	return rc;
}
