/* tests/plugins: the endpoint contract (plugins/common/endpoint.c): the port
 * rule against tests/plugins/endpoint-ports.table (the table the fleet
 * sidekick's shell rule is tested against too), the keys, and the record's
 * JSON written and read back. Needs no server. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "plugin_testing.h"

#define TABLE_PORTS_MAX 64

/* "8080/tcp=0.0.0.0/32768" into *p. */
static int parse_binding(struct docker_port *p, const char *word)
{
	char proto[8] = "", ip[64] = "";
	unsigned cport, hport;

	memset(p, 0, sizeof *p);
	if (sscanf(word, "%u/%7[a-z]=%63[^/]/%u", &cport, proto, ip, &hport) != 4 &&
	    sscanf(word, "%u/%7[a-z]=/%u", &cport, proto, &hport) != 3)
		return -EINVAL;
	p->container_port = cport;
	p->host_port = hport;
	snprintf(p->proto, sizeof p->proto, "%s", proto);
	snprintf(p->host_ip, sizeof p->host_ip, "%s", ip);
	return 0;
}

/* One table line: checks endpoint_ports() against its answer. */
static void check_line(char *line, unsigned lineno)
{
	char *bar = strchr(line, '|'), *want, *save = NULL, got[1024] = "";
	struct docker_port ports[TABLE_PORTS_MAX];
	struct endpoint_port eps[ENDPOINT_PORTS_MAX];
	size_t n_ports = 0, n;
	bool bad = false;

	if (!bar) {
		CHECK(false, "table line %u has no '|'", lineno);
		return;
	}
	*bar = '\0';
	want = bar + 1;
	for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		bad |= n_ports == TABLE_PORTS_MAX || parse_binding(&ports[n_ports++], w) < 0;
	CHECK(!bad, "table line %u: its bindings read", lineno);
	n = endpoint_ports(eps, ENDPOINT_PORTS_MAX, ports, n_ports);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u=%u", i ? " " : "",
			 eps[i].container_port, eps[i].host_port);
	want += strspn(want, " \t");
	want[strcspn(want, "\n")] = '\0';
	while (*want && want[strlen(want) - 1] == ' ')
		want[strlen(want) - 1] = '\0';
	CHECK(strcmp(got, want) == 0, "table line %u: \"%s\" (want \"%s\")", lineno, got, want);
}

static void check_table(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096], line[4096];
	unsigned lineno = 0, cases = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/plugins/endpoint-ports.table", top ? top : ".");
	f = fopen(path, "r");
	CHECK(f != NULL, "%s opens", path);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		check_line(line, lineno);
		cases++;
	}
	fclose(f);
	CHECK(cases > 10, "the table holds %u cases", cases);
}

static void check_keys(void)
{
	struct endpoint_record ep = {.app = "web", .host = "10.0.0.5", .instance = 2};
	char key[ENDPOINT_KEY_MAX];

	CHECK(endpoint_key(key, sizeof key, &ep) == 0 &&
		      strcmp(key, "/services/web/10.0.0.5:2") == 0,
	      "the default port's key is the seed's layout: %s", key);
	ep.extra = true;
	ep.container_port = 9090;
	CHECK(endpoint_key(key, sizeof key, &ep) == 0 &&
		      strcmp(key, "/services/web:9090/10.0.0.5:2") == 0,
	      "an extra port's key names it: %s", key);
	ep.container_port = 0;
	CHECK(endpoint_key(key, sizeof key, &ep) == -EINVAL, "an extra port needs its name");
	ep.extra = false;
	strcpy(ep.host, "a/b");
	CHECK(endpoint_key(key, sizeof key, &ep) == -EINVAL, "a host with '/' makes no key");
	strcpy(ep.host, "h");
	strcpy(ep.app, "Web");
	CHECK(endpoint_key(key, sizeof key, &ep) == -EINVAL, "an invalid app makes no key");
	strcpy(ep.app, "web");
	CHECK(endpoint_key(key, 10, &ep) == -ENAMETOOLONG, "a short buffer is said");
	CHECK(endpoint_key_is_of("/services/web/h:1", "web") &&
		      endpoint_key_is_of("/services/web:9090/h:1", "web") &&
		      !endpoint_key_is_of("/services/web-2/h:1", "web") &&
		      !endpoint_key_is_of("/services/we/h:1", "web") &&
		      !endpoint_key_is_of("/nap/web/h:1", "web"),
	      "endpoint_key_is_of tells an app's keys from another's sharing its prefix");
}

static void check_record(void)
{
	struct endpoint_record ep = {.app = "web",
				     .host = "127.0.0.1",
				     .port = 32770,
				     .instance = 3,
				     .release = 7,
				     .container_port = 9090,
				     .extra = true},
			       back;
	char key[ENDPOINT_KEY_MAX], *json = endpoint_record_json(&ep);

	CHECK(json && strcmp(json, "{\"host\":\"127.0.0.1\",\"port\":32770,\"instance\":3,"
				   "\"release\":7,\"container_port\":9090}") == 0,
	      "the record: %s", json ? json : "(null)");
	CHECK(endpoint_key(key, sizeof key, &ep) == 0 &&
		      endpoint_record_parse(&back, key, json, strlen(json)) == 0 &&
		      memcmp(&back, &ep, sizeof ep) == 0,
	      "an extra port's record reads back whole");
	free(json);

	const char *seed = "{\"host\":\"10.1.2.3\",\"port\":\"8000\"}";
	CHECK(endpoint_record_parse(&back, "/services/old/10.1.2.3:1", seed, strlen(seed)) == 0 &&
		      strcmp(back.app, "old") == 0 && back.port == 8000 && back.instance == 0 &&
		      !back.extra && back.container_port == 0,
	      "the seed's {\"host\",\"port\"} (a string port) reads as the default port");
	const char *bad[][2] = {
		{"/services/web/h:1", "{\"host\":\"h\"}"},
		{"/services/web/h:1", "{\"host\":\"h\",\"port\":0}"},
		{"/services/web/h:1", "{\"host\":\"h\",\"port\":70000}"},
		{"/services/web/h:1", "{\"host\":\"h\",\"port\":80,\"instance\":-1}"},
		{"/services/web/h:1", "not json"},
		{"/services/Web/h:1", "{\"host\":\"h\",\"port\":80}"},
		{"/services/web:0/h:1", "{\"host\":\"h\",\"port\":80}"},
		{"/services/web:90x/h:1", "{\"host\":\"h\",\"port\":80}"},
		{"/services/web:9090/h:1", "{\"host\":\"h\",\"port\":80,\"container_port\":8080}"},
		{"/elsewhere/web/h:1", "{\"host\":\"h\",\"port\":80}"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(endpoint_record_parse(&back, bad[i][0], bad[i][1], strlen(bad[i][1])) ==
			      -EINVAL,
		      "refused: %s = %s", bad[i][0], bad[i][1]);
}

int main(void)
{
	check_table();
	check_keys();
	check_record();
	return DONE();
}
