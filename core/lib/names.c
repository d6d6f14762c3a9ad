/* The app-name and environment-key rules (nap/names.h), in one place. */
#include "config.h"

#include <string.h>

#include <nap/names.h>

static bool lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool nap_app_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > NAP_APP_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!lower_or_digit(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool nap_env_key_valid(const char *k)
{
	size_t n = k ? strlen(k) : 0;
	if (n < 1 || n > NAP_ENV_KEY_MAX || (k[0] >= '0' && k[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_or_digit(k[i]) && !(k[i] >= 'A' && k[i] <= 'Z') && k[i] != '_')
			return false;
	return true;
}
