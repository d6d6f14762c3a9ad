/* Every size limit nap enforces, in one place (docs/protocol.md section
 * "Limits" lists them for clients in other languages). napd answers a request
 * past any of them with INVALID_ARGUMENT and a message that names the limit
 * and its value; napc refuses it before sending (exit status 2); plugins
 * check the strings they receive the same way.
 *
 * Lengths are in bytes, without a terminating NUL. */
#ifndef NAP_LIMITS_H
#define NAP_LIMITS_H

#include <nap/names.h>    /* NAP_APP_NAME_MAX (63), NAP_ENV_KEY_MAX (255) */
#include <nap/protocol.h> /* NAP_FRAME_MAX (4 MiB), NAP_NAME_MAX (255), NAP_MESSAGE_MAX (4096) */

/* One environment value. 32 KiB holds a certificate chain or a JSON blob;
 * anything larger belongs in a file in the image. */
#define NAP_ENV_VALUE_MAX 32768u
/* Variables in one request and in an app's environment. */
#define NAP_ENV_COUNT_MAX 256u
/* The whole environment of an app, counted as Docker and fleet see it: the
 * sum of strlen("KEY=VALUE") over every variable. */
#define NAP_ENV_TOTAL_MAX 65536u

/* An image reference, <registry>/<name>:<tag> (Docker's own limit on a
 * repository name is 255). */
#define NAP_IMAGE_REF_MAX 255u
/* A directory path (a build context), as the kernel's PATH_MAX less its NUL. */
#define NAP_PATH_MAX 4095u
/* 1.2: a build context's id, as nap.Builder.Upload answers it: hex digits
 * of 128 random bits. */
#define NAP_CONTEXT_ID_LEN 32u
/* 1.2: the archive bytes napc puts in one ContextChunk of an Upload. */
#define NAP_CONTEXT_CHUNK (64u * 1024u)
/* An HTTP readiness check path (napc deploy --check-http PATH). */
#define NAP_CHECK_PATH_MAX 255u
/* Placement constraints of an app (napc deploy --constraint): how many, and
 * the length of each. */
#define NAP_CONSTRAINTS_MAX 16u
#define NAP_CONSTRAINT_MAX 255u

/* Instances of one app. */
#define NAP_INSTANCES_MAX 100u
/* Endpoints in one reply (EndpointList, AppStatus, DeployEvent): one per
 * instance with room for several published ports each. */
#define NAP_ENDPOINTS_MAX 1024u

/* A plugin's settings in napd.conf: entries per plugin and the length of one
 * "key=value" entry. */
#define NAP_CONFIG_MAX 256u
#define NAP_CONFIG_ENTRY_MAX 4096u
/* Services one plugin may provide. */
#define NAP_SERVICES_MAX 64u
/* napd.conf's key_prefix: where nap keeps its own records in etcd, passed
 * to plugins as "napd.key_prefix" (docs/protocol.md, section 3): "/", then
 * components of [A-Za-z0-9._-] each followed by "/", at most this long. */
#define NAP_KEY_PREFIX_DEFAULT "/nap/"
#define NAP_KEY_PREFIX_MAX 64u

/* Flow control of client-streaming calls (protocol 1.2, docs/protocol.md
 * section 5): every such call starts with this much credit, in bytes of
 * request MESSAGE payload, so that the first chunks need no round trip; the
 * callee grants more with WINDOW frames as its handler takes messages. It is
 * also the largest request message after the first (the one the CALL
 * carries), and about what each hop holds per call. 256 KiB is four 64 KiB
 * chunks in flight: enough to keep a Unix socket busy. */
#define NAP_STREAM_WINDOW (256u * 1024u)

#endif
