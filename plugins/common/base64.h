/* plugins/common: base64 (RFC 4648, standard alphabet, with '=' padding), as
 * the etcd v3 JSON gateway and Docker's X-Registry-Auth header use it.
 *
 * Both functions may be called from any number of threads at once. Out-
 * parameters come first and are written only on success. */
#ifndef NAP_PLUGIN_COMMON_BASE64_H
#define NAP_PLUGIN_COMMON_BASE64_H

#include <stddef.h>

/* Length of the encoding of n bytes, without the terminating NUL. */
size_t base64_encoded_len(size_t n);

/* Encodes n bytes at in (in may be NULL when n is 0). On success *outp is a
 * new NUL-terminated string the caller frees with free(). Returns 0, or
 * -ENOMEM, or -EOVERFLOW if n is too large to encode. */
int base64_encode(char **outp, const void *in, size_t n);

/* Decodes len characters at in. Padding is required as the encoder writes
 * it; whitespace and any other character outside the alphabet are errors.
 * On success *outp is a new buffer of *out_lenp bytes followed by a NUL (not
 * counted), so text can be used as a C string; the caller frees it with
 * free(). Returns 0, -EINVAL for malformed input, or -ENOMEM. */
int base64_decode(unsigned char **outp, size_t *out_lenp, const char *in, size_t len);

#endif
