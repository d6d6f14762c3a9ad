/* plugins/builder: the build context a Build uses (context.c). */
#ifndef NAP_BUILDER_CONTEXT_H
#define NAP_BUILDER_CONTEXT_H

#include <stdint.h>

#include <nap/builder.pb-c.h>
#include <nap/plugin.h>

struct builder;

/* The context req names, taken out of the spool: the one uploaded as
 * req->context_id, or (allow_path_context only) req->dir packed now. On
 * success *fdp is the archive, open for reading at offset 0 (the caller
 * closes it, which deletes it), and *sizep its size. Returns 0, or -1 with
 * the call ended with one line saying why (a dir without
 * allow_path_context: BUILDER_PATH_REFUSED). */
int builder_context_take(int *fdp, uint64_t *sizep, const struct builder *b, nap_plugin_call *call,
			 const Nap__BuildRequest *req);

#endif
