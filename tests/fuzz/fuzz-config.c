/* libFuzzer target: napd's configuration reader (core/napd/conffile.c).
 *
 * The input is a whole napd.conf. It is written to a file (config_load()
 * reads a path) and loaded over the defaults; what loads has its plugins
 * resolved (under a plugin_dir that holds nothing) and is freed. Every
 * string it kept is walked so that ASan sees it. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;
static char path[128];

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct napd_config c;
	char err[512] = "";
	int fd;

	if (!*path) {
		snprintf(path, sizeof(path), "%s/nap-fuzz-conf-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
		atexit(remove_file);
	}
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	config_init(&c);
	if (config_load(&c, path, true, err, sizeof(err)) == 0) {
		if (c.socket)
			sink += strlen(c.socket);
		sink += strlen(c.plugin_dir) + c.nallow_uids + c.nallow_gids + c.socket_mode;
		for (size_t i = 0; i < c.nplugins; i++) {
			sink += strlen(c.plugins[i].name);
			for (size_t k = 0; k < c.plugins[i].nsettings; k++)
				sink += strlen(c.plugins[i].settings[k]);
		}
		config_resolve_plugins(&c, err, sizeof(err));
	}
	sink += strlen(err);
	config_free(&c);
	return 0;
}
