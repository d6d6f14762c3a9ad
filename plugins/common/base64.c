/* plugins/common: base64 encoding and decoding. */
#include "base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

int base64_encode(char **outp, const void *in, size_t n)
{
	const unsigned char *p = in;
	char *out, *o;
	size_t i;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 2)
		return -EOVERFLOW;
	out = malloc(base64_encoded_len(n) + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = alphabet[v >> 6 & 63];
		*o++ = alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	*outp = out;
	return 0;
}

/* The 6-bit value of c, or -1 if c is not in the alphabet. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(unsigned char **outp, size_t *out_lenp, const char *in, size_t len)
{
	unsigned char *out;
	size_t i, o = 0, pad = 0;

	if (len % 4 != 0)
		return -EINVAL;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		int last = i + 4 == len;
		int a = sextet((unsigned char)in[i]), b = sextet((unsigned char)in[i + 1]);
		int c = last && pad == 2 ? 0 : sextet((unsigned char)in[i + 2]);
		int d = last && pad >= 1 ? 0 : sextet((unsigned char)in[i + 3]);
		uint32_t v;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			goto invalid;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		/* Bits under the padding are ignored, as Go's decoder (etcd's) does. */
		out[o++] = v >> 16 & 0xff;
		if (!(last && pad == 2))
			out[o++] = v >> 8 & 0xff;
		if (!(last && pad >= 1))
			out[o++] = v & 0xff;
	}
	out[o] = '\0';
	*outp = out;
	*out_lenp = o;
	return 0;
invalid:
	free(out);
	return -EINVAL;
}
