/* napd's log: levels as syslog's, to stderr (with sd-daemon "<N>" prefixes
 * when stderr is the journal) or to syslog when napd runs in the background.
 * Plugin hosts log through the same functions with their plugin's name. */
#ifndef NAPD_LOG_H
#define NAPD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <nap/plugin.h> /* NAP_LOG_* levels */

/* Parses "error", "warning", "notice", "info", "debug"; -1 if none. */
int log_level_parse(const char *s);
const char *log_level_name(int level);
void log_setup(const char *ident, int max_level, bool use_syslog);
/* Closes the connection to syslog, if any; later lines go to stderr. */
void log_finish(void);
int log_get_level(void);
bool log_uses_syslog(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);

#define log_error(...) log_msg(NAP_LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(NAP_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(NAP_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(NAP_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(NAP_LOG_DEBUG, __VA_ARGS__)

#endif
