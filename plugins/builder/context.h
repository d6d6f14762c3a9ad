/* plugins/builder: the build context a Build uses (context.c). */
#ifndef NAP_BUILDER_CONTEXT_H
#define NAP_BUILDER_CONTEXT_H

#include <stdint.h>

#include <nap/builder.pb-c.h>
#include <nap/plugin.h>

struct builder;
struct spool_reader;

/* The context req names, taken out of the spool: the one uploaded (or
 * arriving) as req->context_id, or (allow_path_context only) req->dir
 * packed now. On success *rp reads the archive (spool_read(); the caller
 * closes it with spool_reader_close(), which deletes it), and *sizep is its
 * size. Returns 0, or -1 with the call ended with one line saying why (a
 * dir without allow_path_context: BUILDER_PATH_REFUSED). */
int builder_context_take(struct spool_reader **rp, uint64_t *sizep, const struct builder *b,
			 nap_plugin_call *call, const Nap__BuildRequest *req);

#endif
