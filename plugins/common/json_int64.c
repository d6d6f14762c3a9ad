/* plugins/common: 64-bit integers from JSON numbers or decimal strings. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "json_int64.h"

#include <errno.h>
#include <stdlib.h>

int json_int64(int64_t *outp, const json_t *v)
{
	const char *s;
	char *end;
	long long n;

	if (json_is_integer(v)) {
		*outp = json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || n < INT64_MIN || n > INT64_MAX)
		return -ERANGE;
	*outp = n;
	return 0;
}

int64_t json_int64_member(const json_t *obj, const char *key, int64_t dflt)
{
	int64_t n;

	return json_int64(&n, json_object_get(obj, key)) == 0 ? n : dflt;
}
