/* plugins/builder: the settings of the build context, read once in init from
 * the [plugin builder] section of napd.conf (napd.conf(5)):
 *
 *   max_context_mb = 2048       bound on one build context, in MiB
 *   context_dir = DIR           the spool of uploaded contexts (spool.h);
 *                               default NAP_BUILDER_CONTEXT_DIR for the napd
 *                               on the default socket, NAP_BUILDER_CONTEXT_DIR/
 *                               <its socket path, '/' as '_'> for another, so
 *                               that two napds on a host keep theirs apart
 *   allow_path_context = no     yes: a BuildRequest or DeployRequest may
 *                               name a directory, which the builder (root)
 *                               packs itself, as nap 0.1 did; off, napd
 *                               never opens a path a client names
 */
#ifndef NAP_BUILDER_SETTINGS_H
#define NAP_BUILDER_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include <nap/plugin.h>

#ifndef NAP_BUILDER_CONTEXT_DIR
#define NAP_BUILDER_CONTEXT_DIR "/var/lib/nap/builder/contexts"
#endif

struct builder_context_settings {
	uint64_t max_bytes;
	char *dir;     /* malloc'd */
	bool dir_temp; /* a default per socket: removed at shutdown when empty */
	bool allow_path;
};

/* Reads the settings. Returns 0; -EINVAL after logging one line naming the
 * setting and what to write instead; or -ENOMEM. On success the caller
 * frees s->dir. */
int builder_context_settings(struct builder_context_settings *s, const nap_host *host);

#endif
