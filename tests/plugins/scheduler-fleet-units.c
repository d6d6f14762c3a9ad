/* scheduler-fleet-units: the units scheduler-fleet generates, option by
 * option, against what fleet's documentation and the design require; the
 * names and the Conflicts= glob (fnmatch(3), as fleet matches globs); and
 * the quoting of nasty environment values, parsed back with a small
 * systemd-style command line splitter (specifiers, quotes, C escapes, $$).
 * No server needed. */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_testing.h"
#include "units.h"

/* ---- a systemd-style splitter: what systemd does with an Exec line ---- */

/* Expands specifiers the way systemd does before splitting; our lines may
 * hold only %% (a literal %) and %H/%m, which we leave marked. Returns
 * NULL on any other specifier (systemd would refuse or expand it). */
static char *expand_specifiers(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (s[1] == '%') {
			*o++ = '%';
			s++;
		} else {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Splits line into words (quotes group, C escapes are decoded), then
 * applies systemd's per-word variable rule ($$ -> $; ${ is refused: no
 * variable of ours may be expanded). Returns the word count, -1 on error. */
static int split(const char *line, char **words, int max)
{
	char *exp = expand_specifiers(line);
	const char *p = exp;
	int n = 0;

	if (!exp)
		return -1;
	for (;;) {
		char *w, *o;
		char quote = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == max)
			goto fail;
		w = o = malloc(strlen(p) + 1);
		while (*p && (quote || (*p != ' ' && *p != '\t'))) {
			if (quote && *p == quote) {
				quote = 0;
				p++;
			} else if (!quote && (*p == '"' || *p == '\'')) {
				quote = *p++;
			} else if (*p == '\\') {
				p++;
				switch (*p) {
				case 'n':
					*o++ = '\n';
					break;
				case 't':
					*o++ = '\t';
					break;
				case 'r':
					*o++ = '\r';
					break;
				case '\\':
					*o++ = '\\';
					break;
				case '"':
					*o++ = '"';
					break;
				case '\'':
					*o++ = '\'';
					break;
				case 'x':
					if (hexval(p[1]) < 0 || hexval(p[2]) < 0) {
						free(w);
						goto fail;
					}
					*o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
					p += 2;
					break;
				default:
					free(w);
					goto fail;
				}
				p++;
			} else {
				*o++ = *p++;
			}
		}
		*o = '\0';
		if (quote) {
			free(w);
			goto fail;
		}
		/* Variables: $$ is a $; ${NAME} would be replaced: refuse it. */
		for (char *r = w, *d = w; *r || (*d = '\0', 0);) {
			if (r[0] == '$' && r[1] == '$') {
				*d++ = '$';
				r += 2;
			} else if (r[0] == '$' && r[1] == '{') {
				free(w);
				goto fail;
			} else {
				*d++ = *r++;
			}
		}
		words[n++] = w;
	}
	free(exp);
	return n;
fail:
	for (int i = 0; i < n; i++)
		free(words[i]);
	free(exp);
	return -1;
}

static void free_words(char **w, int n)
{
	for (int i = 0; i < n; i++)
		free(w[i]);
}

/* ---- helpers on option lists ---- */

static int count(const struct sf_unit *u, const char *section, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < u->n_options; i++)
		n += !strcmp(u->options[i].section, section) && !strcmp(u->options[i].name, name);
	return n;
}

/* The k-th value of section/name, or NULL. */
static const char *value(const struct sf_unit *u, const char *section, const char *name, int k)
{
	for (size_t i = 0; i < u->n_options; i++)
		if (!strcmp(u->options[i].section, section) && !strcmp(u->options[i].name, name) &&
		    k-- == 0)
			return u->options[i].value;
	return NULL;
}

static bool has(const struct sf_unit *u, const char *section, const char *name, const char *v)
{
	for (int k = 0; value(u, section, name, k); k++)
		if (!strcmp(value(u, section, name, k), v))
			return true;
	return false;
}

/* Checks that line splits into exactly the words given (NULL-terminated). */
static bool argv_is(const char *line, const char *const *want)
{
	char *w[64];
	int n = split(line, w, 64), i;
	bool ok = n >= 0;

	for (i = 0; ok && want[i]; i++)
		if (i >= n || strcmp(w[i], want[i]) != 0) {
			printf("# word %d: got [%s], want [%s]\n", i, i < n ? w[i] : "(none)",
			       want[i]);
			ok = false;
		}
	if (ok && i != n) {
		printf("# %d words, want %d\n", n, i);
		ok = false;
	}
	if (n >= 0)
		free_words(w, n);
	return ok;
}

int main(void)
{
	const char *nasty =
		"$(id); echo \"x\" 'y' `z` %n %% ${HOME} $HOME \\ \\n tab\there\nnewline\x01 é";
	char nasty_kv[256];
	struct sf_env env[] = {{"GREETING", "hello world"}, {"NASTY", nasty}, {"EMPTY", ""}};
	const char *meta[] = {"role=web", "region=eu-1"};
	struct sf_instance_spec spec = {
		.app = "web",
		.release = 3,
		.instance = 2,
		.image = "127.0.0.1:5000/web:3",
		.env = env,
		.n_env = 3,
		.memory_bytes = 64u << 20,
		.metadata = meta,
		.n_metadata = 2,
		.spread = true,
		.docker = "/usr/bin/docker",
		.announce = "/usr/libexec/nap/nap-fleet-announce",
		.etcd = "http://127.0.0.1:2379",
		.host = "10.0.0.5",
		.check_interval_ms = 1000,
		.check_timeout_ms = 500,
		.check_failures = 3,
	};
	struct sf_unit run, disc;
	char name[SF_UNIT_NAME_MAX], glob[SF_UNIT_NAME_MAX], app[64];
	enum sf_unit_kind kind;
	uint32_t rel = 0, ins = 0;

	snprintf(nasty_kv, sizeof nasty_kv, "NASTY=%s", nasty);

	/* ---- names and the Conflicts glob ---- */
	sf_unit_name(name, sizeof name, SF_UNIT_RUN, "web", 3, 2);
	CHECK(!strcmp(name, "nap-web@3-2.service"), "run unit name %s", name);
	sf_unit_name(name, sizeof name, SF_UNIT_DISCOVERY, "web", 3, 2);
	CHECK(!strcmp(name, "nap-web@3-2-discovery.service"), "discovery unit name %s", name);
	CHECK(sf_unit_parse("nap-web-2@3-12.service", app, &kind, &rel, &ins) &&
		      !strcmp(app, "web-2") && kind == SF_UNIT_RUN && rel == 3 && ins == 12,
	      "a run unit name parses back");
	CHECK(sf_unit_parse("nap-a-discovery@1-1-discovery.service", app, &kind, &rel, &ins) &&
		      !strcmp(app, "a-discovery") && kind == SF_UNIT_DISCOVERY && rel == 1 &&
		      ins == 1,
	      "a discovery unit name parses back, even of an app called *-discovery");
	CHECK(!sf_unit_parse("nap-web@3-02.service", app, &kind, &rel, &ins) &&
		      !sf_unit_parse("nap-Web@3-2.service", app, &kind, &rel, &ins) &&
		      !sf_unit_parse("nap-web@3.service", app, &kind, &rel, &ins) &&
		      !sf_unit_parse("other.service", app, &kind, &rel, &ins) &&
		      !sf_unit_parse("nap-web@0-1.service", app, &kind, &rel, &ins),
	      "names that are not ours do not parse");

	sf_conflicts_glob(glob, sizeof glob, "web", 3);
	CHECK(!strcmp(glob, "nap-web@3-*[0-9].service"), "Conflicts glob %s", glob);
	CHECK(fnmatch(glob, "nap-web@3-1.service", 0) == 0 &&
		      fnmatch(glob, "nap-web@3-17.service", 0) == 0,
	      "the glob matches the app's run units of the release");
	CHECK(fnmatch(glob, "nap-web@3-1-discovery.service", 0) != 0,
	      "the glob does not match a discovery unit");
	CHECK(fnmatch(glob, "nap-web-2@3-1.service", 0) != 0 &&
		      fnmatch(glob, "nap-web@31-1.service", 0) != 0 &&
		      fnmatch(glob, "nap-web@4-1.service", 0) != 0,
	      "nor another app with the same start, nor another release");

	/* ---- checks ---- */
	CHECK(sf_image_valid("127.0.0.1:5000/web:3") &&
		      sf_image_valid("reg.example/a/b@sha256:0123abcd") &&
		      sf_image_valid("busybox"),
	      "image references are accepted");
	CHECK(!sf_image_valid("-v") && !sf_image_valid("img;id") && !sf_image_valid("a b") &&
		      !sf_image_valid("a$b") && !sf_image_valid("a%n") && !sf_image_valid("") &&
		      !sf_image_valid("a\"b") && !sf_image_valid("a\\b") && !sf_image_valid(NULL),
	      "image references with odd characters are refused");
	CHECK(sf_metadata_valid("role=web") && !sf_metadata_valid("role") &&
		      !sf_metadata_valid("=web") && !sf_metadata_valid("role=") &&
		      !sf_metadata_valid("role=a b") && !sf_metadata_valid("role=a\nb") &&
		      !sf_metadata_valid("role=%H"),
	      "machine metadata is key=value of safe characters");
	CHECK(sf_host_valid("127.0.0.1") && sf_host_valid("%H") && !sf_host_valid("%n") &&
		      !sf_host_valid("a b") && !sf_host_valid(""),
	      "hosts: addresses, names, %%H");
	CHECK(!sf_text_valid("\xff\xfe") && sf_text_valid(nasty), "env values must be UTF-8");

	/* ---- quoting ---- */
	{
		const char *vals[] = {nasty, "",  "%",   "$",    "$$",  "\\",   "\"",   "'",
				      "a b", ";", "%%H", "${X}", "\\n", "\x7f", "end\\"};

		for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
			char *q = sf_systemd_quote(vals[i]);
			const char *want[] = {vals[i], NULL};

			CHECK(q && !strchr(q, '\n') && argv_is(q, want),
			      "value %zu comes back exactly from systemd's splitting (%s)", i, q);
			free(q);
		}
	}

	/* ---- the run unit ---- */
	CHECK(sf_run_unit(&run, &spec) == 0, "the run unit builds");
	CHECK(!strcmp(run.name, "nap-web@3-2.service"), "... named %s", run.name);
	CHECK(has(&run, "Unit", "Requires", "docker.service") &&
		      has(&run, "Unit", "After", "docker.service"),
	      "... Requires= and After= docker.service");
	CHECK(has(&run, "Service", "TimeoutStartSec", "0"), "... TimeoutStartSec=0");
	CHECK(count(&run, "Service", "ExecStartPre") == 3, "... three ExecStartPre lines");
	CHECK(has(&run, "Service", "SuccessExitStatus", "143"),
	      "... SuccessExitStatus=143: docker run's status after docker stop is no failure");
	CHECK(has(&run, "Service", "Restart", "on-failure") &&
		      has(&run, "Service", "RestartSec", SF_RESTART_SEC) &&
		      has(&run, "Unit", "StartLimitIntervalSec", SF_START_LIMIT_INTERVAL_SEC) &&
		      has(&run, "Unit", "StartLimitBurst", SF_START_LIMIT_BURST),
	      "... Restart=on-failure within a start limit");
	CHECK(has(&run, "Unit", "Wants", "nap-web@3-2-discovery.service"),
	      "... Wants= its sidekick, which comes back with a restart");
	{
		const char *rm[] = {"-/usr/bin/docker", "rm", "-f", "nap-web-3-2", NULL};
		const char *pull[] = {"/usr/bin/docker", "pull", "127.0.0.1:5000/web:3", NULL};
		const char *start[] = {"/usr/bin/docker",
				       "run",
				       "--rm",
				       "-P",
				       "--init",
				       "--name",
				       "nap-web-3-2",
				       "--label",
				       "nap.app=web",
				       "--label",
				       "nap.release=3",
				       "--label",
				       "nap.instance=2",
				       "--label",
				       "nap.announced-by=sidekick",
				       "--memory",
				       "67108864",
				       "-e",
				       "GREETING=hello world",
				       "-e",
				       nasty_kv,
				       "-e",
				       "EMPTY=",
				       "127.0.0.1:5000/web:3",
				       NULL};
		const char *claim[] = {"/usr/libexec/nap/nap-fleet-announce",
				       "claim",
				       "http://127.0.0.1:2379",
				       "web",
				       "3",
				       "2",
				       "nap-web-3-2",
				       "10.0.0.5",
				       "/usr/bin/docker",
				       NULL};
		const char *stop[] = {"-/usr/bin/docker", "stop", "nap-web-3-2", NULL};

		CHECK(argv_is(value(&run, "Service", "ExecStartPre", 0), rm),
		      "... first removes a leftover container, failure ignored ('-')");
		CHECK(argv_is(value(&run, "Service", "ExecStartPre", 1), pull),
		      "... then pulls the image");
		CHECK(argv_is(value(&run, "Service", "ExecStartPre", 2), claim),
		      "... then claims the instance (present key, want gate)");
		CHECK(count(&run, "Service", "ExecStart") == 1 &&
			      argv_is(value(&run, "Service", "ExecStart", 0), start),
		      "... ExecStart runs the container in the foreground with labels and the "
		      "exact environment");
		CHECK(argv_is(value(&run, "Service", "ExecStop", 0), stop),
		      "... ExecStop stops it (a container already gone is no failure)");
	}
	CHECK(has(&run, "X-Fleet", "Conflicts", "nap-web@3-*[0-9].service"),
	      "... Conflicts= with the release's other instances");
	CHECK(has(&run, "X-Fleet", "MachineMetadata", "role=web") &&
		      has(&run, "X-Fleet", "MachineMetadata", "region=eu-1"),
	      "... one MachineMetadata= per entry");
	for (size_t i = 0; i < run.n_options; i++)
		if (strchr(run.options[i].value, '\n'))
			CHECK(false, "option %s holds a newline", run.options[i].name);
	{
		const char *sections[] = {"Unit", "Service", "X-Fleet"};
		bool ok = true;

		for (size_t i = 0; i < run.n_options; i++) {
			bool known = false;

			for (size_t k = 0; k < 3; k++)
				known |= !strcmp(run.options[i].section, sections[k]);
			ok &= known;
		}
		CHECK(ok, "... only [Unit], [Service] and [X-Fleet] options");
	}
	sf_unit_release(&run);
	spec.spread = false;
	spec.n_metadata = 0;
	spec.memory_bytes = 0;
	CHECK(sf_run_unit(&run, &spec) == 0 && count(&run, "X-Fleet", "Conflicts") == 0 &&
		      count(&run, "X-Fleet", "MachineMetadata") == 0,
	      "without spread and metadata: no [X-Fleet] placement options");
	sf_unit_release(&run);

	/* ---- the discovery unit ---- */
	CHECK(sf_discovery_unit(&disc, &spec) == 0, "the discovery unit builds");
	CHECK(!strcmp(disc.name, "nap-web@3-2-discovery.service"), "... named %s", disc.name);
	CHECK(has(&disc, "Unit", "BindsTo", "nap-web@3-2.service") &&
		      has(&disc, "Unit", "After", "nap-web@3-2.service"),
	      "... BindsTo= and After= its run unit");
	CHECK(has(&disc, "X-Fleet", "MachineOf", "nap-web@3-2.service"),
	      "... MachineOf= its run unit");
	CHECK(count(&disc, "X-Fleet", "Conflicts") == 0, "... and no Conflicts=");
	{
		const char *ann[] = {"/usr/libexec/nap/nap-fleet-announce",
				     "announce",
				     "http://127.0.0.1:2379",
				     "web",
				     "3",
				     "2",
				     "nap-web-3-2",
				     "10.0.0.5",
				     "/usr/bin/docker",
				     "1000",
				     "500",
				     "3",
				     NULL};

		CHECK(argv_is(value(&disc, "Service", "ExecStart", 0), ann),
		      "... ExecStart runs the announcer with checked arguments and its check");
		CHECK(count(&disc, "Service", "ExecStop") == 0,
		      "... no ExecStop: SIGTERM makes it revoke its own lease");
	}
	sf_unit_release(&disc);
	{
		const char *path = "/health?x=1&y=%41;z@a!b~c";
		const char *ann[] = {"/usr/libexec/nap/nap-fleet-announce",
				     "announce",
				     "http://127.0.0.1:2379",
				     "web",
				     "3",
				     "2",
				     "nap-web-3-2",
				     "10.0.0.5",
				     "/usr/bin/docker",
				     "1000",
				     "500",
				     "3",
				     path,
				     NULL};

		spec.check_path = path;
		CHECK(sf_discovery_unit(&disc, &spec) == 0 &&
			      argv_is(value(&disc, "Service", "ExecStart", 0), ann),
		      "an HTTP check path reaches the announcer exactly (%% and all)");
		sf_unit_release(&disc);
	}
	/* nap's keys under another prefix: both units tell the helper */
	spec.key_prefix = "/nap/";
	CHECK(sf_run_unit(&run, &spec) == 0 && sf_discovery_unit(&disc, &spec) == 0 &&
		      count(&run, "Service", "Environment") == 0 &&
		      count(&disc, "Service", "Environment") == 0,
	      "under the default key prefix: no Environment=");
	sf_unit_release(&run);
	sf_unit_release(&disc);
	spec.key_prefix = "/nap-test-x/";
	CHECK(sf_run_unit(&run, &spec) == 0 && sf_discovery_unit(&disc, &spec) == 0 &&
		      has(&run, "Service", "Environment", "NAP_KEY_PREFIX=/nap-test-x/") &&
		      has(&disc, "Service", "Environment", "NAP_KEY_PREFIX=/nap-test-x/"),
	      "another key prefix reaches nap-fleet-announce through Environment= in both units");
	sf_unit_release(&run);
	sf_unit_release(&disc);
	spec.key_prefix = NULL;
	CHECK(sf_check_path_valid("/") && sf_check_path_valid("/health?x=1&y=%41") &&
		      !sf_check_path_valid("health") && !sf_check_path_valid("/a b") &&
		      !sf_check_path_valid("/$(id)") && !sf_check_path_valid("/a'b") &&
		      !sf_check_path_valid("/a\"b") && !sf_check_path_valid("/a\nb") &&
		      !sf_check_path_valid("") && !sf_check_path_valid(NULL),
	      "check paths: / and safe characters only");
	return DONE();
}
