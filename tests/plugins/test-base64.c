/* tests/plugins: base64 against RFC 4648's test vectors, and malformed input. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "plugin_testing.h"

static const struct {
	const char *plain, *encoded;
} vectors[] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static const char *const malformed[] = {
	"Zg=", "Zm9", "Zm9\t", "Zm 9v", "Zg==Zg==", "=Zg=", "Zm9*", "Z===",
};

int main(void)
{
	const unsigned char bytes[] = {0x00, 0xff, 0xfe, 0x80, 0x7f};
	unsigned char *dec;
	size_t len;
	char *enc;
	int r;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		r = base64_encode(&enc, vectors[i].plain, strlen(vectors[i].plain));
		CHECK(r == 0 && strcmp(enc, vectors[i].encoded) == 0, "encode \"%s\"",
		      vectors[i].plain);
		if (r == 0)
			free(enc);
		r = base64_decode(&dec, &len, vectors[i].encoded, strlen(vectors[i].encoded));
		CHECK(r == 0 && len == strlen(vectors[i].plain) &&
			      memcmp(dec, vectors[i].plain, len) == 0 && dec[len] == '\0',
		      "decode \"%s\"", vectors[i].encoded);
		if (r == 0)
			free(dec);
	}
	r = base64_encode(&enc, bytes, sizeof(bytes));
	CHECK(r == 0 && strcmp(enc, "AP/+gH8=") == 0, "encode binary (uses + and /)");
	if (r == 0) {
		r = base64_decode(&dec, &len, enc, strlen(enc));
		CHECK(r == 0 && len == sizeof(bytes) && memcmp(dec, bytes, len) == 0,
		      "binary round-trips");
		if (r == 0)
			free(dec);
		free(enc);
	}
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		r = base64_decode(&dec, &len, malformed[i], strlen(malformed[i]));
		CHECK(r == -EINVAL, "\"%s\" is refused", malformed[i]);
		if (r == 0)
			free(dec);
	}
	CHECK(base64_encoded_len(0) == 0 && base64_encoded_len(1) == 4 &&
		      base64_encoded_len(3) == 4 && base64_encoded_len(4) == 8,
	      "encoded lengths");
	return DONE();
}
