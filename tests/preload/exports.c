/*
 * tests/preload/exports.c - libgreen.so exports exactly what interpose/exports.map lists
 * (STYLE.md: "A test checks that nm -D matches exports.map").
 *
 * The map is an anonymous version node, `{ global: a; b; ... local: *; };`. The test
 * parses every `global:` section (comments removed; a name with *, ? or [ is a glob
 * pattern), runs `nm -D --defined-only` on GR_LIB, and asserts both directions:
 *   - every defined dynamic symbol of the library (function or data) is listed or matches
 *     a pattern: nothing leaks out of the shim by accident;
 *   - every plain name listed is defined: no interposer was forgotten or misspelt.
 *
 * The map is found at GR_EXPORTS_MAP if the build defines it, else GR_SRCDIR/interpose/
 * exports.map, else next to the build directory of GR_LIB (<root>/build/libgreen.so ->
 * <root>/interpose/exports.map), else interpose/exports.map from the working directory.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ctype.h>
#include <fnmatch.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *s, const char *p, size_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		cr_assert(s->v);
	}
	s->v[s->n++] = strndup(p, len);
}

static bool is_pattern(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static char *find_map(void)
{
	char *cands[4] = {0};
	int n = 0;
#ifdef GR_EXPORTS_MAP
	cands[n++] = strdup(GR_EXPORTS_MAP);
#endif
#ifdef GR_SRCDIR
	cands[n++] = strdup(GR_SRCDIR "/interpose/exports.map");
#endif
	char lib[4096];
	snprintf(lib, sizeof lib, "%s", GR_LIB);
	char *root = dirname(dirname(lib));	/* <root>/build/libgreen.so -> <root> */
	if (asprintf(&cands[n], "%s/interpose/exports.map", root) >= 0)
		n++;
	cands[n++] = strdup("interpose/exports.map");
	char *found = NULL;
	for (int i = 0; i < n; i++) {
		if (!found && cands[i] && access(cands[i], R_OK) == 0)
			found = cands[i];
		else
			free(cands[i]);
	}
	return found;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, got, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Blanks out C comments and '#' line comments in place. */
static void strip_comments(char *s)
{
	for (char *p = s; *p; p++) {
		if (p[0] == '/' && p[1] == '*') {
			char *e = strstr(p + 2, "*/");
			char *end = e ? e + 2 : p + strlen(p);
			memset(p, ' ', end - p);
			p = end - 1;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				*p++ = ' ';
			if (!*p)
				break;
		}
	}
}

/* The names and patterns of every `global:` section. */
static void parse_map(char *text, struct names *out)
{
	strip_comments(text);
	bool global = false;
	char *p = text;
	while (*p) {
		if (isspace((unsigned char)*p) || *p == ';' || *p == '{') {
			p++;
			continue;
		}
		if (*p == '}') {	/* end of a node: "} NAME;" or "};" */
			global = false;
			p++;
			while (*p && *p != ';' && *p != '{')
				p++;
			continue;
		}
		size_t len = strcspn(p, " \t\r\n;{}:");
		if (len == 0) {
			p++;
			continue;
		}
		/* a section label: "global:", "local:", also with blanks before the ':' */
		char *after = p + len;
		while (isspace((unsigned char)*after))
			after++;
		if (*after == ':') {
			global = len == 6 && strncmp(p, "global", 6) == 0;
			len = (size_t)(after - p) + 1;
		} else if (global && !(len == 6 && strncmp(p, "extern", 6) == 0) && *p != '"') {
			names_add(out, p, len);
		}
		p += len;
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(exports, nm_matches_exports_map, .timeout = 30)
{
	gr_test_need_lib();
	char *map = find_map();
	cr_assert(map, "interpose/exports.map not found (define GR_EXPORTS_MAP or GR_SRCDIR)");
	const char *which[] = {"/bin/sh", "-c", "command -v nm", NULL};
	struct gr_test_result w = {0};
	gr_test_run(which, NULL, 10, &w);
	if (!gr_test_ok(&w))
		cr_skip("nm is not installed");
	gr_test_result_free(&w);

	struct names listed = {0}, exported = {0};
	char *text = slurp(map);
	parse_map(text, &listed);
	free(text);
	cr_assert(listed.n > 0, "%s: no names in a global: section", map);

	const char *argv[] = {"/bin/sh", "-c", "exec nm -D --defined-only \"$0\"", GR_LIB, NULL};
	struct gr_test_result r = {0};
	gr_test_run(argv, NULL, 20, &r);
	gr_test_assert_ok(&r);
	/* lines: "<address> <type> <name>[@[@]VERSION]" */
	for (char *line = r.out; line && *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char addr[64], type[8], name[512];
		char buf[640];
		snprintf(buf, sizeof buf, "%.*s", (int)(len < 639 ? len : 639), line);
		if (sscanf(buf, "%63s %7s %511s", addr, type, name) == 3) {
			name[strcspn(name, "@")] = '\0';
			names_add(&exported, name, strlen(name));
		}
		line = nl ? nl + 1 : NULL;
	}
	gr_test_result_free(&r);
	qsort(exported.v, exported.n, sizeof *exported.v, cmp);

	char *extra = NULL, *missing = NULL;
	size_t nextra = 0, nmissing = 0;
	FILE *fe = open_memstream(&extra, &(size_t){0});
	FILE *fm = open_memstream(&missing, &(size_t){0});
	for (size_t i = 0; i < exported.n; i++) {
		bool ok = false;
		for (size_t j = 0; j < listed.n && !ok; j++)
			ok = is_pattern(listed.v[j]) ? fnmatch(listed.v[j], exported.v[i], 0) == 0
						     : strcmp(listed.v[j], exported.v[i]) == 0;
		if (!ok) {
			fprintf(fe, " %s", exported.v[i]);
			nextra++;
		}
	}
	for (size_t j = 0; j < listed.n; j++) {
		if (is_pattern(listed.v[j]))
			continue;
		if (!bsearch(&listed.v[j], exported.v, exported.n, sizeof *exported.v, cmp)) {
			fprintf(fm, " %s", listed.v[j]);
			nmissing++;
		}
	}
	fclose(fe);
	fclose(fm);
	cr_log_info("%s: %zu names listed, %zu symbols exported", map, listed.n, exported.n);
	cr_expect(nextra == 0, "%zu symbols exported by %s but not listed in %s:%s", nextra, GR_LIB,
		  map, extra);
	cr_expect(nmissing == 0, "%zu names listed in %s but not exported by %s:%s", nmissing, map,
		  GR_LIB, missing);
	free(extra);
	free(missing);
	for (size_t i = 0; i < listed.n; i++)
		free(listed.v[i]);
	for (size_t i = 0; i < exported.n; i++)
		free(exported.v[i]);
	free(listed.v);
	free(exported.v);
	free(map);
}
