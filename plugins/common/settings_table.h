/* plugins/common: reading a plugin's number and yes/no settings from its
 * section of napd.conf (host->config()), from one table, so that every
 * plugin checks them alike and says the same one line when one is bad:
 *   notifier: timeout_ms = "soon" is not a whole number from 1 to 600000:
 *   fix it in the [plugin notifier] section of napd.conf */
#ifndef NAP_PLUGIN_COMMON_SETTINGS_TABLE_H
#define NAP_PLUGIN_COMMON_SETTINGS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nap/plugin.h>

enum setting_type {
	SETTING_U32,  /* a whole number in [min, max], times scale, into a uint32_t */
	SETTING_BOOL, /* yes/no, true/false, on/off, 1/0, into a bool; def != 0 is yes */
};

struct setting {
	const char *key; /* as in napd.conf; "napd.x" is napd's own section's */
	enum setting_type type;
	void *into;   /* uint32_t * or bool * */
	uint32_t def; /* when the key is absent (already scaled) */
	uint32_t min, max;
	uint32_t scale;   /* the value is stored times this (seconds to ms: 1000); 0 is 1 */
	const char *unit; /* for the message ("seconds"), or NULL */
};

/* Stores every setting of table (n of them) from host->config(), or its
 * default. A bad value: logs one line (plugin's name, the key, the value,
 * what is accepted, where to fix it) and returns -EINVAL; the settings
 * before it are stored. */
int settings_read(const nap_host *host, const char *plugin, const struct setting *table, size_t n);

#endif
