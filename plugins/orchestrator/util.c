/* Clocks and the one condition every thread waits on. */
#include "config.h"

#include <time.h>

#include "orchestrator.h"

struct orch O;

uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void orch_changed(struct app *a)
{
	if (a)
		a->version++;
	pthread_cond_broadcast(&O.changed);
}

void orch_wait(uint32_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000u;
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&O.changed, &O.lock, &ts);
}

int orch_retry_level(void)
{
	return mono_ms() - O.started_ms < 5000u ? NAP_LOG_INFO : NAP_LOG_WARNING;
}
