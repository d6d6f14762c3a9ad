/* libFuzzer target: scheduler-fleet's reading of fleet's answers
 * (plugins/scheduler-fleet/fleet_api.c), through the real client with
 * fake_fleet_http.c in place of the network.
 *
 * The first byte picks the call: u units (following nextPageToken), s unit
 * states, m machines, g one unit, p put a unit, t set a unit's state, d
 * delete a unit; any other byte picks by its value. The rest (after one
 * optional newline) is fleet's answers in answers.h's format: one per page
 * or request, error bodies with a status line. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "fleet_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void touch(const char *s)
{
	if (s)
		sink += strlen(s);
}

static void touch_unit(const struct fleet_unit *u)
{
	touch(u->name);
	touch(u->desired_state);
	touch(u->current_state);
	touch(u->machine_id);
	for (size_t i = 0; i < u->n_options; i++) {
		touch(u->options[i].section);
		touch(u->options[i].name);
		touch(u->options[i].value);
	}
}

static void run(const fleet_client *c, char op)
{
	static const struct fleet_option opts[] = {
		{"Unit", "Description", "nap app web release 3 instance 1"},
		{"Service", "ExecStart", "/usr/bin/docker run --rm -P --name nap-web-3-1 web:3"},
		{"X-Fleet", "MachineMetadata", "region=eu"},
	};
	char err[512] = "";
	size_t n = 0;
	bool flag = false;

	switch (op) {
	case 'u': {
		struct fleet_unit *v = NULL;

		if (fleet_units_list(&v, &n, c, err, sizeof err) == 0) {
			for (size_t i = 0; i < n; i++)
				touch_unit(&v[i]);
			fleet_units_free(v, n);
		}
		break;
	}
	case 's': {
		struct fleet_unit_state *v = NULL;

		if (fleet_states_list(&v, &n, c, err, sizeof err) == 0) {
			for (size_t i = 0; i < n; i++) {
				touch(v[i].name);
				touch(v[i].hash);
				touch(v[i].machine_id);
				touch(v[i].load_state);
				touch(v[i].active_state);
				touch(v[i].sub_state);
			}
			fleet_states_free(v, n);
		}
		break;
	}
	case 'm': {
		struct fleet_machine *v = NULL;

		if (fleet_machines_list(&v, &n, c, err, sizeof err) == 0) {
			for (size_t i = 0; i < n; i++) {
				touch(v[i].id);
				touch(v[i].primary_ip);
				for (size_t k = 0; k < v[i].n_meta; k++) {
					touch(v[i].meta_keys[k]);
					touch(v[i].meta_values[k]);
				}
			}
			fleet_machines_free(v, n);
		}
		break;
	}
	case 'g': {
		struct fleet_unit *u = NULL;

		if (fleet_unit_get(&u, c, "nap-web@3-1.service", err, sizeof err) == 0) {
			touch_unit(u);
			fleet_units_free(u, 1);
		}
		break;
	}
	case 'p':
		fleet_unit_put(&flag, c, "nap-web@3-1.service", "launched", opts, 3, err,
			       sizeof err);
		break;
	case 't':
		fleet_unit_set_state(c, "nap-web@3-1.service", "inactive", err, sizeof err);
		break;
	default:
		fleet_unit_delete(&flag, c, "nap-web@3-1.service", err, sizeof err);
		break;
	}
	touch(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ops[] = "usmgptd";
	static fleet_client *c;
	char err[256];
	char op;

	if (size == 0)
		return 0;
	if (!c && fleet_client_new(&c, "http://127.0.0.1:49153", NULL, err, sizeof err) < 0)
		abort();
	op = data[0] && strchr(ops, data[0]) ? (char)data[0] : ops[data[0] % (sizeof ops - 1)];
	data++, size--;
	if (size > 0 && data[0] == '\n')
		data++, size--;
	answers_reset(data, size);
	run(c, op);
	answers_reset(NULL, 0);
	return 0;
}
