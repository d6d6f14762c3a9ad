/* tests/plugins: plugins/common/settings_table.c, the one reader of the
 * plugins' number and yes/no settings: defaults, ranges, scales, yes/no
 * words, and the one line a bad value gets. Needs no server. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugin_testing.h"
#include "settings_table.h"

static const char *const *conf; /* key, value, key, value, ..., NULL */
static char logged[512];
static int n_logged;

static const char *fake_config(const char *key)
{
	for (size_t i = 0; conf && conf[i]; i += 2)
		if (strcmp(conf[i], key) == 0)
			return conf[i + 1];
	return NULL;
}

static void fake_log(int level, const char *fmt, ...)
{
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(logged, sizeof logged, fmt, ap);
	va_end(ap);
	n_logged++;
}

static uint32_t ms, count;
static bool flag;

static int read_with(const char *const *c)
{
	nap_host host = {.size = sizeof host, .log = fake_log, .config = fake_config};
	const struct setting table[] = {
		{"timeout", SETTING_U32, &ms, 5000, 1, 60, 1000, "seconds"},
		{"count", SETTING_U32, &count, 3, 0, 20, 0, NULL},
		{"log", SETTING_BOOL, &flag, 1, 0, 0, 0, NULL},
		{"napd.deploy_timeout", SETTING_U32, &count, 3, 1, 9, 0, NULL},
	};

	conf = c;
	logged[0] = '\0';
	n_logged = 0;
	return settings_read(&host, "demo", table, sizeof table / sizeof table[0]);
}

int main(void)
{
	CHECK(read_with(NULL) == 0 && ms == 5000 && count == 3 && flag && n_logged == 0,
	      "absent settings take their defaults");
	CHECK(read_with((const char *const[]){"timeout", "7", "count", "0", "log", "Off", NULL}) ==
			      0 &&
		      ms == 7000 && count == 3 && !flag,
	      "values are read, scaled (7 s = 7000 ms), and yes/no words in any case");
	CHECK(read_with((const char *const[]){"count", "20", "napd.deploy_timeout", "9", NULL}) ==
			      0 &&
		      count == 9,
	      "the ends of a range are accepted");

	const char *bad[] = {"61", "0", "-1", "+5", "5s", "", "99999999999999999999", " 5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(read_with((const char *const[]){"timeout", bad[i], NULL}) == -EINVAL &&
			      n_logged == 1 && strstr(logged, "demo: timeout = \"") == logged &&
			      strstr(logged,
				     "is not a whole number from 1 to 60 seconds: fix it in "
				     "the [plugin demo] section of napd.conf"),
		      "timeout = \"%s\" is refused in one line: %s", bad[i], logged);
	CHECK(read_with((const char *const[]){"log", "maybe", NULL}) == -EINVAL &&
		      strcmp(logged, "demo: log = \"maybe\" is neither yes nor no: fix it in the "
				     "[plugin demo] section of napd.conf") == 0,
	      "a bad yes/no: %s", logged);
	CHECK(read_with((const char *const[]){"napd.deploy_timeout", "10", NULL}) == -EINVAL &&
		      strstr(logged, "fix deploy_timeout in napd.conf"),
	      "napd's own setting says where it lives: %s", logged);
	return DONE();
}
