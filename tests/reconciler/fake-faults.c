/* Test fixtures: faults the fake plugins inject on request (see
 * fake-control.h), so a test can fail, slow down or crash any method at
 * any step of an operation. One table per plugin process. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fake-control.h"

/* Most methods with a fault armed or a call counted, in one fake. */
#define FAULT_METHODS_MAX 32
/* A COUNT of 0 in a command: every call, until "clear". */
#define FOREVER UINT_MAX

struct fault {
	char method[32];
	unsigned long long calls; /* calls so far */
	unsigned fail_left;       /* calls still to fail */
	int fail_status;
	bool crash;             /* crash-on armed */
	bool crash_after;       /* ... after the work, before the reply */
	unsigned crash_skip;    /* calls to let pass first */
	unsigned crash_pending; /* calls that must crash at their end */
	unsigned delay_ms, delay_left;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[FAULT_METHODS_MAX];
static size_t n_faults;

/* The entry for method, made if need be (lock held); NULL if full. */
static struct fault *entry(const char *method)
{
	for (size_t i = 0; i < n_faults; i++)
		if (strcmp(faults[i].method, method) == 0)
			return &faults[i];
	if (n_faults == FAULT_METHODS_MAX || strlen(method) >= sizeof faults[0].method)
		return NULL;
	struct fault *f = &faults[n_faults++];
	*f = (struct fault){0};
	snprintf(f->method, sizeof f->method, "%s", method);
	return f;
}

static void crash(const nap_host *host, const char *method, const char *when)
{
	host->log(NAP_LOG_WARNING, "fake: crash-on %s %s: aborting", method, when);
	abort();
}

bool fake_fault_begin(const nap_host *host, nap_plugin_call *call, const char *method)
{
	unsigned delay = 0;
	int status = -1;
	bool die = false;

	pthread_mutex_lock(&lock);
	struct fault *f = entry(method);
	if (f) {
		f->calls++;
		if (f->delay_left) {
			delay = f->delay_ms;
			if (f->delay_left != FOREVER)
				f->delay_left--;
		}
		if (f->crash && f->crash_skip) {
			f->crash_skip--;
		} else if (f->crash) {
			f->crash = false;
			if (f->crash_after)
				f->crash_pending++;
			else
				die = true;
		}
		if (!die && f->fail_left) {
			status = f->fail_status;
			if (f->fail_left != FOREVER)
				f->fail_left--;
		}
	}
	pthread_mutex_unlock(&lock);
	if (die)
		crash(host, method, "before");
	for (unsigned waited = 0; waited < delay && !host->cancelled(call); waited += 10)
		fake_sleep_ms(delay - waited < 10 ? delay - waited : 10);
	if (status < 0)
		return false;
	host->end(call, status, "fake: %s failed as the test asked (fail %s)", method, method);
	return true;
}

void fake_fault_end(const nap_host *host, const char *method)
{
	bool die = false;

	pthread_mutex_lock(&lock);
	struct fault *f = entry(method);
	if (f && f->crash_pending) {
		f->crash_pending--;
		die = true;
	}
	pthread_mutex_unlock(&lock);
	if (die)
		crash(host, method, "after");
}

static bool parse_uint(unsigned *outp, const char *s)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || n >= FOREVER)
		return false;
	*outp = (unsigned)n;
	return true;
}

/* COUNT as given: 0 means FOREVER. */
static bool parse_count(unsigned *outp, const char *s)
{
	unsigned n;
	if (!parse_uint(&n, s))
		return false;
	*outp = n ? n : FOREVER;
	return true;
}

int fake_faults_command(int argc, char **argv, FILE *out, const char **whyp)
{
	const char *cmd = argv[0];
	struct fault *f = NULL;
	const char *why = NULL;

	if (strcmp(cmd, "fail") && strcmp(cmd, "crash-on") && strcmp(cmd, "delay") &&
	    strcmp(cmd, "clear") && strcmp(cmd, "calls") && strcmp(cmd, "faults"))
		return 0;
	pthread_mutex_lock(&lock);
	if (argc >= 2 && strcmp(cmd, "faults") && !(f = entry(argv[1]))) {
		why = "method name too long, or too many methods";
	} else if (strcmp(cmd, "fail") == 0 && argc >= 2 && argc <= 4) {
		unsigned count = 1;
		int status = NAP_UNAVAILABLE;
		if (argc >= 3 && !parse_count(&count, argv[2]))
			why = "fail METHOD [COUNT [STATUS]]: COUNT is a number (0: every call)";
		else if (argc == 4 && ((status = nap_status_from_name(argv[3])) <= 0))
			why = "fail METHOD [COUNT [STATUS]]: STATUS is a name such as UNAVAILABLE";
		else {
			f->fail_left = count;
			f->fail_status = status;
		}
	} else if (strcmp(cmd, "crash-on") == 0 && argc >= 2 && argc <= 4) {
		unsigned skip = 0;
		bool after = argc >= 3 && strcmp(argv[2], "after") == 0;
		if (argc >= 3 && !after && strcmp(argv[2], "before") != 0)
			why = "crash-on METHOD [before|after] [SKIP]";
		else if (argc == 4 && !parse_uint(&skip, argv[3]))
			why = "crash-on METHOD [before|after] [SKIP]: SKIP is a number";
		else {
			f->crash = true;
			f->crash_after = after;
			f->crash_skip = skip;
		}
	} else if (strcmp(cmd, "delay") == 0 && (argc == 3 || argc == 4)) {
		unsigned ms, count = FOREVER;
		if (!parse_uint(&ms, argv[2]) || ms == 0 ||
		    (argc == 4 && !parse_count(&count, argv[3])))
			why = "delay METHOD MS [COUNT]: MS from 1, COUNT a number (0: every call)";
		else {
			f->delay_ms = ms;
			f->delay_left = count;
		}
	} else if (strcmp(cmd, "clear") == 0 && argc <= 2) {
		for (size_t i = 0; i < n_faults; i++) {
			if (f && f != &faults[i])
				continue;
			faults[i].fail_left = faults[i].delay_left = faults[i].crash_pending = 0;
			faults[i].crash = false;
		}
	} else if (strcmp(cmd, "calls") == 0 && argc == 2) {
		fprintf(out, "%llu\n", f->calls);
	} else if (strcmp(cmd, "faults") == 0 && argc == 1) {
		for (size_t i = 0; i < n_faults; i++) {
			const struct fault *g = &faults[i];
			if (g->fail_left)
				fprintf(out, "fail %s %u %s\n", g->method,
					g->fail_left == FOREVER ? 0 : g->fail_left,
					nap_status_name(g->fail_status));
			if (g->crash)
				fprintf(out, "crash-on %s %s %u\n", g->method,
					g->crash_after ? "after" : "before", g->crash_skip);
			if (g->delay_left)
				fprintf(out, "delay %s %u %u\n", g->method, g->delay_ms,
					g->delay_left == FOREVER ? 0 : g->delay_left);
		}
	} else {
		why = "fault commands: fail METHOD [COUNT [STATUS]], crash-on METHOD "
		      "[before|after] [SKIP], delay METHOD MS [COUNT], clear [METHOD], calls "
		      "METHOD, faults";
	}
	pthread_mutex_unlock(&lock);
	*whyp = why;
	return 1;
}
