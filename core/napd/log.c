#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {
	[NAP_LOG_ERROR] = "error", [NAP_LOG_WARNING] = "warning", [NAP_LOG_NOTICE] = "notice",
	[NAP_LOG_INFO] = "info",   [NAP_LOG_DEBUG] = "debug",
};

static struct {
	char ident[64];
	int max_level;
	bool syslog;
	bool journal; /* stderr is connected to the journal: prefix "<N>" */
} logger = {"napd", NAP_LOG_NOTICE, false, false};

int log_level_parse(const char *s)
{
	for (int i = NAP_LOG_ERROR; i <= NAP_LOG_DEBUG; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warn") == 0)
		return NAP_LOG_WARNING;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < NAP_LOG_ERROR || level > NAP_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void log_setup(const char *ident, int max_level, bool use_syslog)
{
	snprintf(logger.ident, sizeof(logger.ident), "%s", ident);
	logger.max_level = max_level;
	logger.syslog = use_syslog;
	/* systemd sets JOURNAL_STREAM when stderr goes to the journal, which
	 * reads a "<N>" prefix as the priority and adds its own timestamp. */
	logger.journal = getenv("JOURNAL_STREAM") != NULL;
	if (use_syslog)
		openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_get_level(void)
{
	return logger.max_level;
}

bool log_uses_syslog(void)
{
	return logger.syslog;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	if (level > logger.max_level)
		return;
	char line[2048];
	vsnprintf(line, sizeof(line), fmt, ap);
	if (logger.syslog) {
		syslog(level, "%s", line);
		return;
	}
	if (logger.journal) {
		fprintf(stderr, "<%d>%s: %s\n", level, logger.ident, line);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: %s\n", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		logger.ident, (int)getpid(), log_level_name(level), line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_finish(void)
{
	if (logger.syslog)
		closelog();
	logger.syslog = false;
}
