/* plugins/common: following Docker's event stream. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "docker_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_request.h"
#include "errbuf.h"

struct event_stream {
	docker_event_fn event;
	void *user;
	int cb_rc;
};

static int event_json(void *user, json_t *obj)
{
	struct event_stream *s = user;
	json_t *actor = json_object_get(obj, "Actor");
	struct docker_event ev = {
		.object = obj,
		.type = json_string_value(json_object_get(obj, "Type")),
		.action = json_string_value(json_object_get(obj, "Action")),
		.id = json_string_value(json_object_get(actor, "ID")),
		.attributes = json_object_get(actor, "Attributes"),
		.time_nano = json_integer_value(json_object_get(obj, "timeNano")),
	};
	int r;

	if (!ev.type)
		ev.type = "";
	if (!ev.action)
		ev.action = json_string_value(json_object_get(obj, "status"));
	if (!ev.action)
		ev.action = "";
	if (!ev.id)
		ev.id = "";
	r = s->event(s->user, &ev);
	if (r != 0)
		s->cb_rc = r;
	return r;
}

int docker_events(docker_client *c, const char *const *label_filters, size_t n_filters,
		  int64_t since_nano, docker_event_fn event, void *user, const atomic_int *cancel,
		  char *err, size_t errlen)
{
	char url[DOCKER_URL_MAX] = DOCKER_URL_BASE "/events", tcp_url[DOCKER_URL_MAX];
	struct event_stream s = {.event = event, .user = user};
	struct http_request req = {
		.unix_socket = docker_client_unix(c),
		.method = "GET",
		.url = url,
		.on_json = event_json,
		.json_user = &s,
		.cancel = cancel,
	};
	struct http_response resp;
	char since[48], *filters;
	int r = 0;

	if (since_nano > 0) {
		snprintf(since, sizeof since, "%lld.%09lld", (long long)(since_nano / 1000000000),
			 (long long)(since_nano % 1000000000));
		r = docker_url_add_param(url, "since", since);
	}
	if (r == 0 && n_filters > 0) {
		filters = docker_label_filters_json(label_filters, n_filters);
		r = filters ? docker_url_add_param(url, "filters", filters) : -EINVAL;
		free(filters);
	}
	if (r < 0)
		return errbuf_printf(err, errlen, r, "events: bad label filters");
	req.url = docker_client_url(c, url, tcp_url);
	if (!req.url)
		return errbuf_printf(err, errlen, -ENAMETOOLONG, "events: URL too long");
	r = http_perform(&resp, &req, err, errlen);
	if (r < 0) {
		if (s.cb_rc < 0)
			return errbuf_printf(err, errlen, s.cb_rc, "events: stopped: %s",
					     strerror(-s.cb_rc));
		return docker_transport_error(c, r, "events", err, errlen);
	}
	r = docker_status(&resp, "events", err, errlen);
	if (r == 0 && resp.stop == 0)
		r = errbuf_printf(err, errlen, -ECONNRESET, "events: dockerd closed the stream");
	http_response_release(&resp);
	return r;
}
