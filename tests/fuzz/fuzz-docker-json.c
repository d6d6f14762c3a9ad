/* libFuzzer target: what the plugins read from Docker (plugins/common's
 * docker_*.c), through the real client with fake_http.c in place of the
 * socket.
 *
 * The first byte picks the call: e events, i container inspect, l container
 * list, b build, p push, r image remove, c container run (create then
 * start), g ping; any other byte picks by its value. The rest (after one
 * optional newline) is dockerd's answers in answers.h's format: a status
 * line or not, then the body, a stream of JSON lines for events, build and
 * push. Each call's results are walked so that ASan sees every string. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "docker_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void touch(const char *s)
{
	if (s)
		sink += strlen(s);
}

static int on_event(void *user, const struct docker_event *ev)
{
	(void)user;
	touch(ev->type);
	touch(ev->action);
	touch(ev->id);
	touch(json_string_value(json_object_get(ev->attributes, "name")));
	sink += (size_t)ev->time_nano;
	/* A plugin's follower stops on what it was waiting for. */
	return strcmp(ev->action, "destroy") == 0 ? 1 : 0;
}

static int on_line(void *user, const struct docker_line *l)
{
	(void)user;
	touch(l->stream);
	touch(l->status);
	touch(l->error);
	touch(json_string_value(json_object_get(l->aux, "ID")));
	sink += (size_t)l->step + (size_t)l->steps;
	return 0;
}

static void run(docker_client *c, char op)
{
	static const char *const filters[] = {"nap.app=web", "nap.release=3"};
	static const char *const env[] = {"PORT=8080", "GREETING=hello world"};
	static const struct docker_kv labels[] = {{"nap.app", "web"}, {"nap.release", "3"}};
	char err[512] = "", *s = NULL;

	switch (op) {
	case 'e':
		docker_events(c, filters, 2, 1700000000123456789LL, on_event, NULL, NULL, err,
			      sizeof err);
		break;
	case 'i': {
		struct docker_container_info *info = NULL;

		if (docker_container_inspect(&info, c, "nap-web-3-1", err, sizeof err) == 0) {
			touch(info->id);
			touch(info->name);
			touch(info->image);
			touch(info->state);
			for (size_t i = 0; i < info->n_ports; i++)
				sink += info->ports[i].host_port + strlen(info->ports[i].host_ip) +
					strlen(info->ports[i].proto);
			docker_container_info_free(info);
		}
		break;
	}
	case 'l': {
		struct docker_container_summary *list = NULL;
		size_t n = 0;

		if (docker_container_list(&list, &n, c, filters, 2, true, err, sizeof err) == 0) {
			for (size_t i = 0; i < n; i++) {
				touch(list[i].id);
				touch(list[i].name);
				touch(list[i].image);
				touch(list[i].state);
				touch(json_string_value(json_object_get(list[i].labels, "nap.app")));
			}
			docker_container_list_free(list, n);
		}
		break;
	}
	case 'b': {
		struct docker_build_options o = {.tag = "127.0.0.1:5000/web:3",
						 .labels = labels,
						 .n_labels = 2};
		static const char tar[1024];

		if (docker_build_buffer(&s, c, &o, tar, sizeof tar, on_line, NULL, err,
					sizeof err) == 0)
			touch(s);
		break;
	}
	case 'p':
		if (docker_push(&s, c, "127.0.0.1:5000/web", "3", on_line, NULL, NULL, err,
				sizeof err) == 0)
			touch(s);
		break;
	case 'r':
		docker_image_remove(c, "127.0.0.1:5000/web:3", true, err, sizeof err);
		break;
	case 'c': {
		struct docker_container_spec spec = {.image = "127.0.0.1:5000/web:3",
						     .name = "nap-web-3-1",
						     .env = env,
						     .n_env = 2,
						     .labels = labels,
						     .n_labels = 2,
						     .memory = 64 << 20};

		if (docker_container_run(&s, c, &spec, err, sizeof err) == 0)
			touch(s);
		break;
	}
	default:
		docker_ping(c, err, sizeof err);
		break;
	}
	free(s);
	touch(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ops[] = "eilbprcg";
	docker_client *c;
	char op;

	if (size == 0)
		return 0;
	op = data[0] && strchr(ops, data[0]) ? (char)data[0] : ops[data[0] % 8];
	data++, size--;
	if (size > 0 && data[0] == '\n')
		data++, size--;
	if (docker_client_new(&c, NULL) < 0)
		return 0;
	answers_reset(data, size);
	run(c, op);
	answers_reset(NULL, 0);
	docker_client_free(c);
	return 0;
}
