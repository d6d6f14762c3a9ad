/* scheduler-fleet: fleet API v1 entities (units, unit states, machines) on
 * top of fleet_http.c. See fleet_api.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fleet_api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "errbuf.h"
#include "fleet_http.h"

int fleet_client_new(fleet_client **cp, const char *endpoint, const char *prefix, char *err,
		     size_t errlen)
{
	struct fleet_client *c;
	size_t plen;

	if (!endpoint || !*endpoint)
		endpoint = FLEET_DEFAULT_ENDPOINT;
	if (!prefix)
		prefix = FLEET_DEFAULT_PREFIX;
	plen = strlen(prefix);
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--; /* "/fleet/v1/" and "/fleet/v1" are the same */
	if (plen > 0 && prefix[0] != '/')
		return errbuf_printf(err, errlen, -EINVAL,
				     "prefix = %s: give an absolute path such as /fleet/v1",
				     prefix);
	c = calloc(1, sizeof *c);
	if (!c)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	c->endpoint = strdup(endpoint);
	c->retry_ms = FLEET_DEFAULT_RETRY_MS;
	if (strncmp(endpoint, "unix://", 7) == 0 && endpoint[7] == '/') {
		c->unix_socket = strdup(endpoint + 7);
		c->base = malloc(sizeof "http://fleet" + plen);
		if (c->base)
			snprintf(c->base, sizeof "http://fleet" + plen, "http://fleet%.*s",
				 (int)plen, prefix);
	} else if (strncmp(endpoint, "http://", 7) == 0 || strncmp(endpoint, "https://", 8) == 0) {
		size_t elen = strlen(endpoint);

		while (elen > 8 && endpoint[elen - 1] == '/')
			elen--;
		c->base = malloc(elen + plen + 1);
		if (c->base)
			snprintf(c->base, elen + plen + 1, "%.*s%.*s", (int)elen, endpoint,
				 (int)plen, prefix);
	} else {
		fleet_client_free(c);
		return errbuf_printf(err, errlen, -EINVAL,
				     "endpoint = %s: give unix:///path/to/fleet.sock or "
				     "http://host:port",
				     endpoint);
	}
	if (!c->endpoint || !c->base || (strncmp(endpoint, "unix://", 7) == 0 && !c->unix_socket)) {
		fleet_client_free(c);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	*cp = c;
	return 0;
}

void fleet_client_free(fleet_client *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->unix_socket);
	free(c->base);
	free(c);
}

void fleet_client_set_retry(fleet_client *c, unsigned retry_ms)
{
	c->retry_ms = retry_ms;
}

const char *fleet_client_endpoint(const fleet_client *c)
{
	return c->endpoint;
}

static bool state_known(const char *s)
{
	return s && (!strcmp(s, "inactive") || !strcmp(s, "loaded") || !strcmp(s, "launched"));
}

/* "/units/<name>" with the name escaped (nap's names need no escaping, but
 * nothing here relies on that). */
static char *unit_path(const char *name)
{
	char *e = curl_easy_escape(NULL, name, 0), *p = NULL;

	if (e) {
		p = malloc(strlen(e) + sizeof "/units/");
		if (p) {
			strcpy(p, "/units/");
			strcat(p, e);
		}
		curl_free(e);
	}
	return p;
}

static int put_json(bool *createdp, const fleet_client *c, const char *name, json_t *body,
		    char *err, size_t errlen)
{
	char *path = unit_path(name);
	char *text = json_dumps(body, JSON_COMPACT);
	long status = 0;
	int r;

	if (!path || !text)
		r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	else
		r = fleet_http(&status, NULL, c, "PUT", path, text, err, errlen);
	if (r == 0 && createdp)
		*createdp = status == 201;
	free(path);
	free(text);
	return r;
}

int fleet_unit_put(bool *createdp, const fleet_client *c, const char *name, const char *desired,
		   const struct fleet_option *options, size_t n_options, char *err, size_t errlen)
{
	json_t *body, *opts;
	int r;

	if (!state_known(desired))
		return errbuf_printf(err, errlen, -EINVAL, "unknown desired state %s",
				     desired ? desired : "(null)");
	if (n_options == 0) /* fleet: 409 "options field empty" */
		return errbuf_printf(err, errlen, -EINVAL, "unit %s has no options", name);
	body = json_pack("{s:s}", "desiredState", desired);
	opts = json_array();
	if (!body || !opts) {
		json_decref(body);
		json_decref(opts);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	json_object_set_new(body, "options", opts);
	for (size_t i = 0; i < n_options; i++) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "section", options[i].section, "name",
				      options[i].name, "value", options[i].value);

		/* NULL: a value that is not UTF-8 (callers check that first). */
		if (!o || json_array_append_new(opts, o) < 0) {
			json_decref(body);
			return errbuf_printf(err, errlen, -EINVAL,
					     "option %s of unit %s is not UTF-8 text",
					     options[i].name, name);
		}
	}
	r = put_json(createdp, c, name, body, err, errlen);
	json_decref(body);
	return r;
}

int fleet_unit_set_state(const fleet_client *c, const char *name, const char *desired, char *err,
			 size_t errlen)
{
	json_t *body;
	int r;

	if (!state_known(desired))
		return errbuf_printf(err, errlen, -EINVAL, "unknown desired state %s",
				     desired ? desired : "(null)");
	body = json_pack("{s:s}", "desiredState", desired);
	if (!body)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = put_json(NULL, c, name, body, err, errlen);
	json_decref(body);
	return r;
}

int fleet_unit_delete(bool *existedp, const fleet_client *c, const char *name, char *err,
		      size_t errlen)
{
	char *path = unit_path(name);
	long status;
	int r;

	if (!path)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = fleet_http(&status, NULL, c, "DELETE", path, NULL, err, errlen);
	free(path);
	if (r == -ENOENT) {
		if (existedp)
			*existedp = false;
		return 0;
	}
	if (r == 0 && existedp)
		*existedp = true;
	return r;
}

/* ---- reading entities ---- */

static char *dup_member(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? strdup(s) : NULL;
}

static int read_unit(struct fleet_unit *u, json_t *o)
{
	json_t *opts = json_object_get(o, "options");

	memset(u, 0, sizeof *u);
	u->name = dup_member(o, "name");
	u->desired_state = dup_member(o, "desiredState");
	u->current_state = dup_member(o, "currentState");
	u->machine_id = dup_member(o, "machineID");
	if (!u->name)
		return -EPROTO;
	if (json_is_array(opts) && json_array_size(opts) > 0) {
		size_t n = json_array_size(opts);

		u->options = calloc(n, sizeof *u->options);
		if (!u->options)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(opts, i);
			char *s = dup_member(e, "section"), *nm = dup_member(e, "name"),
			     *v = dup_member(e, "value");

			u->options[i] = (struct fleet_option){s, nm, v};
			u->n_options = i + 1;
			if (!s || !nm || !v)
				return -EPROTO;
		}
	}
	return 0;
}

static void free_unit(struct fleet_unit *u)
{
	free(u->name);
	free(u->desired_state);
	free(u->current_state);
	free(u->machine_id);
	for (size_t i = 0; i < u->n_options; i++) {
		free((char *)u->options[i].section);
		free((char *)u->options[i].name);
		free((char *)u->options[i].value);
	}
	free(u->options);
}

void fleet_units_free(struct fleet_unit *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free_unit(&v[i]);
	free(v);
}

int fleet_unit_get(struct fleet_unit **up, const fleet_client *c, const char *name, char *err,
		   size_t errlen)
{
	char *path = unit_path(name);
	struct fleet_unit *u;
	json_t *j = NULL;
	long status;
	int r;

	if (!path)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	r = fleet_http(&status, &j, c, "GET", path, NULL, err, errlen);
	free(path);
	if (r < 0)
		return r;
	u = calloc(1, sizeof *u);
	if (!u) {
		json_decref(j);
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	}
	r = read_unit(u, j);
	json_decref(j);
	if (r < 0) {
		fleet_units_free(u, 1);
		return errbuf_printf(err, errlen, r,
				     "fleet at %s sent a unit %s that cannot be read", c->endpoint,
				     name);
	}
	*up = u;
	return 0;
}

static int read_state(void *out, json_t *o)
{
	struct fleet_unit_state *s = out;

	s->name = dup_member(o, "name");
	s->hash = dup_member(o, "hash");
	s->machine_id = dup_member(o, "machineID");
	s->load_state = dup_member(o, "systemdLoadState");
	s->active_state = dup_member(o, "systemdActiveState");
	s->sub_state = dup_member(o, "systemdSubState");
	return s->name ? 0 : -EPROTO;
}

void fleet_states_free(struct fleet_unit_state *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].hash);
		free(v[i].machine_id);
		free(v[i].load_state);
		free(v[i].active_state);
		free(v[i].sub_state);
	}
	free(v);
}

static int read_machine(void *out, json_t *o)
{
	struct fleet_machine *m = out;
	json_t *meta = json_object_get(o, "metadata");

	m->id = dup_member(o, "id");
	m->primary_ip = dup_member(o, "primaryIP");
	if (!m->id)
		return -EPROTO;
	if (json_is_object(meta) && json_object_size(meta) > 0) {
		size_t n = json_object_size(meta), i = 0;
		const char *k;
		json_t *v;

		m->meta_keys = calloc(n, sizeof *m->meta_keys);
		m->meta_values = calloc(n, sizeof *m->meta_values);
		if (!m->meta_keys || !m->meta_values)
			return -ENOMEM;
		json_object_foreach(meta, k, v)
		{
			if (i >= n || !json_is_string(v))
				continue;
			m->meta_keys[i] = strdup(k);
			m->meta_values[i] = strdup(json_string_value(v));
			m->n_meta = ++i;
			if (!m->meta_keys[i - 1] || !m->meta_values[i - 1])
				return -ENOMEM;
		}
	}
	return 0;
}

void fleet_machines_free(struct fleet_machine *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].primary_ip);
		for (size_t k = 0; k < v[i].n_meta; k++) {
			free(v[i].meta_keys[k]);
			free(v[i].meta_values[k]);
		}
		free(v[i].meta_keys);
		free(v[i].meta_values);
	}
	free(v);
}

static int read_unit_any(void *out, json_t *o)
{
	return read_unit(out, o);
}

/* GET path and every next page; each element of the array member `key`
 * (missing: none, as fleet sends "{}") is read into a new item of size
 * `size` with read(). On failure the items read so far are freed with
 * release(). */
static int list_all(void **listp, size_t *np, const fleet_client *c, const char *path,
		    const char *key, size_t size, int (*read)(void *, json_t *),
		    void (*release)(void *, size_t), char *err, size_t errlen)
{
	char *list = NULL, *token = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (int page = 0;; page++) {
		char *p = NULL;
		json_t *j = NULL, *items;
		const char *next;
		long status;

		if (page >= 100000) {
			r = errbuf_printf(err, errlen, -EPROTO,
					  "fleet at %s keeps sending pages of %s", c->endpoint,
					  path);
			break;
		}
		if (token) {
			char *e = curl_easy_escape(NULL, token, 0);

			p = e ? malloc(strlen(path) + strlen(e) + sizeof "?nextPageToken=") : NULL;
			if (p)
				sprintf(p, "%s?nextPageToken=%s", path, e);
			curl_free(e);
			if (!p) {
				r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
				break;
			}
		}
		r = fleet_http(&status, &j, c, "GET", p ? p : path, NULL, err, errlen);
		free(p);
		if (r < 0)
			break;
		items = json_object_get(j, key);
		for (size_t i = 0; json_is_array(items) && i < json_array_size(items); i++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				char *nl = realloc(list, ncap * size);

				if (!nl) {
					r = -ENOMEM;
					break;
				}
				list = nl;
				cap = ncap;
			}
			memset(list + n * size, 0, size);
			n++;
			r = read(list + (n - 1) * size, json_array_get(items, i));
			if (r < 0)
				break;
		}
		next = json_string_value(json_object_get(j, "nextPageToken"));
		free(token);
		token = r == 0 && next && *next ? strdup(next) : NULL;
		json_decref(j);
		if (r < 0) {
			if (r == -ENOMEM)
				errbuf_printf(err, errlen, r, "out of memory");
			else
				errbuf_printf(err, errlen, r,
					      "fleet at %s sent an entry of %s that cannot be read",
					      c->endpoint, path);
			break;
		}
		if (!token)
			break;
	}
	free(token);
	if (r < 0) {
		release(list, n);
		return r;
	}
	*listp = list;
	*np = n;
	return 0;
}

static void release_units(void *v, size_t n)
{
	fleet_units_free(v, n);
}
static void release_states(void *v, size_t n)
{
	fleet_states_free(v, n);
}
static void release_machines(void *v, size_t n)
{
	fleet_machines_free(v, n);
}

int fleet_units_list(struct fleet_unit **listp, size_t *np, const fleet_client *c, char *err,
		     size_t errlen)
{
	return list_all((void **)listp, np, c, "/units", "units", sizeof **listp, read_unit_any,
			release_units, err, errlen);
}

int fleet_states_list(struct fleet_unit_state **listp, size_t *np, const fleet_client *c, char *err,
		      size_t errlen)
{
	return list_all((void **)listp, np, c, "/state", "states", sizeof **listp, read_state,
			release_states, err, errlen);
}

int fleet_machines_list(struct fleet_machine **listp, size_t *np, const fleet_client *c, char *err,
			size_t errlen)
{
	return list_all((void **)listp, np, c, "/machines", "machines", sizeof **listp,
			read_machine, release_machines, err, errlen);
}
