/* tests/plugins: what the plugin tests add to tests/unit/testing.h (CHECK,
 * DONE): skipping a test whose server is not there, "# ..." notes, and
 * shell commands built with printf formats. */
#ifndef NAP_TESTS_PLUGINS_PLUGIN_TESTING_H
#define NAP_TESTS_PLUGINS_PLUGIN_TESTING_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "testing.h"

/* Exit status that automake's test driver reports as SKIP. */
#define TEST_SKIP 77

/* Exits with TEST_SKIP after saying why, on stderr and in the TAP plan
 * ("1..0 # SKIP why", which automake's TAP driver shows on the SKIP line). */
__attribute__((format(printf, 1, 2), noreturn)) static inline void skip_all(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(TEST_SKIP);
}

/* A "# ..." note in the test's output (measurements, what went wrong). */
__attribute__((format(printf, 1, 2))) static inline void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Formats a command and runs it with system(3); returns its exit status, or
 * -1 if it could not run. Arguments are the test's own paths, never input. */
__attribute__((format(printf, 1, 2))) static inline int shell(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	r = system(cmd);
	free(cmd);
	return r == -1 || !WIFEXITED(r) ? -1 : WEXITSTATUS(r);
}

#endif
