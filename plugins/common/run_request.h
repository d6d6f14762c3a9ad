/* plugins/common: the checks every scheduler applies to a Scheduler.Run
 * request (app, release, instances, environment), the same way; the image
 * reference each checks for what it passes it to. */
#ifndef NAP_PLUGIN_COMMON_RUN_REQUEST_H
#define NAP_PLUGIN_COMMON_RUN_REQUEST_H

#include <stddef.h>

#include <nap/scheduler.pb-c.h>

/* NULL if req's app name is valid, its release is 1 or more, its instances
 * are 1 to NAP_INSTANCES_MAX numbers, each 1 or more and none twice, its
 * environment passes nap_env_valid() and its image reference (if any) is at
 * most NAP_IMAGE_REF_MAX bytes; otherwise why not (a constant, or
 * written into buf). */
const char *run_request_check(const Nap__RunRequest *req, char *buf, size_t len);

#endif
