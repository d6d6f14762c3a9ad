/* A tiny TAP-style harness for the C unit tests: CHECK prints "ok N - what"
 * or "not ok N - what (file:line)"; DONE() returns the exit status automake
 * expects (0 all passed, 1 something failed). */
#ifndef NAP_TESTING_H
#define NAP_TESTING_H

#include <stdbool.h>
#include <stdio.h>

static int t_count, t_failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		bool t_ok_ = (cond); /* evaluated once: cond may have effects */                   \
		t_count++;                                                                         \
		if (!t_ok_)                                                                        \
			t_failed++;                                                                \
		printf("%sok %d - ", t_ok_ ? "" : "not ", t_count);                                \
		printf(__VA_ARGS__);                                                               \
		if (!t_ok_)                                                                        \
			printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);                         \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
	} while (0)

#define DONE()                                                                                     \
	(printf("1..%d\n# %d passed, %d failed\n", t_count, t_count - t_failed, t_failed),         \
	 t_failed ? 1 : 0)

#endif
