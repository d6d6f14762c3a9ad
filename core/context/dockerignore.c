/* core/context: .dockerignore parsing and matching. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "dockerignore.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

struct pattern {
	char *text; /* cleaned, without the '!' */
	bool exception;
};

struct dockerignore {
	struct pattern *patterns;
	size_t n, cap;
	bool has_exceptions;
};

/* ---- matching ---- */

/* Matches a character class at *pp (just after its '['), against c. Moves
 * *pp past the closing ']'. Returns 1 match, 0 no match, -1 malformed. */
static int match_class(const char **pp, unsigned char c)
{
	const char *p = *pp;
	bool negate = false, found = false, first = true;

	if (*p == '^') {
		negate = true;
		p++;
	}
	for (; *p && (*p != ']' || first); first = false) {
		unsigned char lo, hi;

		if (*p == '\\' && p[1])
			p++;
		lo = (unsigned char)*p++;
		hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p++;
		}
		if (lo <= c && c <= hi)
			found = true;
	}
	if (*p != ']')
		return -1;
	*pp = p + 1;
	return found != negate;
}

/* Docker's pattern semantics (see the header), by backtracking: patterns
 * and paths are short. Matches p against the path s .. e (not
 * NUL-terminated, so parent directories can be matched in place). Returns
 * 1 match, 0 no match, -1 malformed pattern. */
static int match(const char *p, const char *s, const char *e)
{
	for (;;) {
		switch (*p) {
		case '\0':
			return s == e;
		case '*':
			if (p[1] == '*') {
				p += 2;
				if (*p == '/')
					p++;
				if (*p == '\0')
					return 1; /* trailing "**": anything */
				/* Regexp "(.*" "/)?": nothing, or anything up to a slash. */
				for (;;) {
					int r = match(p, s, e);

					if (r != 0)
						return r;
					s = memchr(s, '/', (size_t)(e - s));
					if (!s)
						return 0;
					s++;
				}
			}
			p++;
			for (;;) { /* [^/]* */
				int r = match(p, s, e);

				if (r != 0)
					return r;
				if (s == e || *s == '/')
					return 0;
				s++;
			}
		case '?':
			if (s == e || *s == '/')
				return 0;
			p++, s++;
			break;
		case '[': {
			int r;

			p++;
			if (s == e)
				return match_class(&p, 0) < 0 ? -1 : 0;
			r = match_class(&p, (unsigned char)*s);
			if (r <= 0)
				return r;
			s++;
			break;
		}
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
			if (s == e || *p != *s)
				return 0;
			p++, s++;
			break;
		}
	}
}

bool dockerignore_excludes(const dockerignore *di, const char *path)
{
	const char *end = path + strlen(path);
	bool excluded = false;

	for (size_t i = 0; i < di->n; i++) {
		const struct pattern *pat = &di->patterns[i];
		int m;

		/* An exclusion can only change a path not yet excluded; an
		 * exception only one that is. */
		if (pat->exception != excluded)
			continue;
		m = match(pat->text, path, end) == 1;
		/* Or does it match one of the parent directories? */
		for (const char *slash = path;
		     !m && (slash = memchr(slash, '/', (size_t)(end - slash))); slash++)
			m = match(pat->text, path, slash) == 1;
		if (m)
			excluded = !pat->exception;
	}
	return excluded;
}

bool dockerignore_may_include_below(const dockerignore *di, const char *dir)
{
	size_t len = strlen(dir);

	if (!di->has_exceptions)
		return false;
	for (size_t i = 0; i < di->n; i++) {
		const struct pattern *pat = &di->patterns[i];

		if (pat->exception && strncmp(pat->text, dir, len) == 0 &&
		    (pat->text[len] == '/' || pat->text[len] == '\0'))
			return true;
	}
	return false;
}

/* ---- parsing ---- */

/* A copy of pattern cleaned like Go's filepath.Clean ("./a//b/" → "a/b",
 * "a/../b" → "b", "/../a" → "/a", "" → "."); NULL if out of memory. */
static char *clean(const char *pattern)
{
	size_t len = strlen(pattern), n = 0, o = 0;
	bool rooted = pattern[0] == '/';
	const char **seg = malloc((len / 2 + 1) * sizeof(*seg));
	size_t *seglen = malloc((len / 2 + 1) * sizeof(*seglen));
	char *out = malloc(len + 2);
	const char *p = pattern;

	if (!seg || !seglen || !out) {
		free(out);
		out = NULL;
		goto done;
	}
	while (*p) {
		size_t k = strcspn(p, "/");

		if (k == 2 && p[0] == '.' && p[1] == '.') {
			if (n > 0 && !(seglen[n - 1] == 2 && memcmp(seg[n - 1], "..", 2) == 0))
				n--;
			else if (!rooted)
				seg[n] = p, seglen[n++] = k;
		} else if (k > 0 && !(k == 1 && p[0] == '.')) {
			seg[n] = p, seglen[n++] = k;
		}
		p += k;
		p += *p == '/';
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out[o++] = '/';
		memcpy(out + o, seg[i], seglen[i]);
		o += seglen[i];
	}
	if (o == 0)
		out[o++] = rooted ? '/' : '.';
	out[o] = '\0';
done:
	free(seg);
	free(seglen);
	return out;
}

/* Shortens each run of three or more unescaped stars in p, in place, to
 * two (an even run) or three (an odd one), which match() reads the same
 * (two stars match any run of whole directories, and so do four) but
 * without trying every way to split the path between the stars: long runs
 * took minutes per path. */
static void collapse_stars(char *p)
{
	char *o = p;

	while (*p) {
		size_t run = 0;

		if (*p == '\\' && p[1]) {
			*o++ = *p++;
			*o++ = *p++;
			continue;
		}
		while (p[run] == '*')
			run++;
		if (run < 3) {
			*o++ = *p++;
			continue;
		}
		*o++ = '*';
		*o++ = '*';
		if (run % 2)
			*o++ = '*';
		p += run;
	}
	*o = '\0';
}

/* True if every '[' in p has its ']'. */
static bool valid_pattern(const char *p)
{
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '[') {
			p++;
			if (match_class(&p, 0) < 0)
				return false;
			p--;
		}
	}
	return true;
}

int dockerignore_add(dockerignore *di, const char *pattern, char *err, size_t errlen)
{
	const char *p = pattern;
	bool exception = false;
	struct pattern *pat;
	size_t n;
	char *text;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '!') {
		exception = true;
		p++;
		while (isspace((unsigned char)*p))
			p++;
	}
	n = strlen(p);
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return errbuf_printf(err, errlen, -EINVAL, "bad pattern \"%s\": %s", pattern,
				     exception ? "\"!\" without a pattern" : "empty");
	text = strndup(p, n);
	if (text) {
		char *c = clean(text);

		free(text);
		text = c;
	}
	if (!text)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	if (text[0] == '/' && text[1] != '\0')
		memmove(text, text + 1, strlen(text));
	if (!valid_pattern(text)) {
		free(text);
		return errbuf_printf(err, errlen, -EINVAL, "bad pattern \"%s\": unterminated [",
				     pattern);
	}
	collapse_stars(text);
	if (di->n == di->cap) {
		size_t cap = di->cap ? 2 * di->cap : 16;

		pat = realloc(di->patterns, cap * sizeof(*pat));
		if (!pat) {
			free(text);
			return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
		}
		di->patterns = pat;
		di->cap = cap;
	}
	di->patterns[di->n++] = (struct pattern){.text = text, .exception = exception};
	di->has_exceptions |= exception;
	return 0;
}

int dockerignore_parse(dockerignore **dip, const char *text, size_t len, char *err, size_t errlen)
{
	dockerignore *di = calloc(1, sizeof(*di));
	const char *p = text, *end = text + len;
	char *line = NULL;
	int lineno = 0, r = 0;

	if (!di)
		return errbuf_printf(err, errlen, -ENOMEM, "out of memory");
	/* A UTF-8 byte order mark is skipped. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && r == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *q = p;

		lineno++;
		p += n + (nl != NULL);
		if (n > 0 && q[0] == '#')
			continue; /* a comment: only at the very start of the line */
		while (n > 0 && isspace((unsigned char)*q))
			q++, n--;
		while (n > 0 && isspace((unsigned char)q[n - 1]))
			n--;
		if (n == 0)
			continue;
		free(line);
		line = strndup(q, n);
		if (!line) {
			r = errbuf_printf(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		r = dockerignore_add(di, line, err, errlen);
		if (r == -EINVAL)
			errbuf_printf(err, errlen, r, ".dockerignore line %d: bad pattern \"%s\"",
				      lineno, line);
	}
	free(line);
	if (r < 0) {
		dockerignore_free(di);
		return r;
	}
	*dip = di;
	return 0;
}

dockerignore *dockerignore_free(dockerignore *di)
{
	if (di) {
		for (size_t i = 0; i < di->n; i++)
			free(di->patterns[i].text);
		free(di->patterns);
		free(di);
	}
	return NULL;
}
