/*
 * The key tables' walk and the setters any table may use.
 *
 * The YAML is read into a tree first (yamltree.c) and then walked
 * against tables of keys, one row per key naming the node kinds it
 * accepts and the setter that stores it, in the manner of nginx's
 * directive tables: adding a key is adding a row.  Nothing stops at
 * the first mistake.  Each setter reports its own errors at the line
 * and column of the offending node and the walk goes on, so one run of
 * --check shows every problem in the file.
 *
 * config.c walks the proxy configuration with these, policyfile.c the
 * policies; both report a misspelt name through schema_unknown().
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "confvalue.h"
#include "schema.h"

#define SCHEMA_NUMBER_MAX	INT_MAX


/*
 * Small helpers: memory, numbers and misspelt names.
 */

void
schema_nomem(struct schema_ctx *ctx, const struct diag_mark *mark)
{
	diag_error(ctx->diag, mark, "out of memory");
}


void *
schema_append(void *array, size_t n, size_t size)
{
	char	*grown;

	grown = reallocarray(array, n + 1, size);
	if (grown == NULL) {
		return NULL;
	}
	memset(grown + n * size, 0, size);
	return grown;
}


int
schema_number(const struct yamltree_node *v, long *out)
{
	unsigned long long	 n = 0;
	const char		*s;

	if (v->quoted || !confvalue_is_digits(v->text)) {
		return -1;
	}
	for (s = v->text; *s != '\0'; s++) {
		n = n * 10 + (unsigned long long)(*s - '0');
		if (n > (unsigned long long)SCHEMA_NUMBER_MAX) {
			return -1;
		}
	}
	*out = (long)n;
	return 0;
}


void
schema_bad_number(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v)
{
	if (v->quoted && confvalue_is_digits(v->text)) {
		diag_error(ctx->diag, &v->mark, "'%s' must be %s, not the "
		    "quoted string \"%s\": remove the quotes", k->name,
		    k->expect, v->text);
	} else {
		diag_error(ctx->diag, &v->mark, "'%s' must be %s, not '%s'",
		    k->name, k->expect, v->text);
	}
}


/* Short words allow one edit, longer ones two, so that "foo" is not
 * taken for "log". */
void
schema_near_try(struct schema_near *near, const char *candidate)
{
	size_t	 limit, dist;

	/* A name that failed to load is no candidate. */
	if (candidate == NULL) {
		return;
	}
	limit = strlen(near->word) <= 4 ? 1 : 2;
	dist = confvalue_distance(near->word, candidate);
	if (dist <= limit && (near->best == NULL || dist < near->distance)) {
		near->best = candidate;
		near->distance = dist;
	}
}


/* Reports an unknown name with the nearest known one, if any. */
void
schema_unknown(struct schema_ctx *ctx, const struct diag_mark *mark,
    const char *what, const struct schema_near *near)
{
	if (near->best != NULL) {
		diag_error(ctx->diag, mark, "unknown %s '%s'; did you mean "
		    "'%s'?", what, near->word, near->best);
	} else {
		diag_error(ctx->diag, mark, "unknown %s '%s'", what,
		    near->word);
	}
}


/*
 * The walk: every key of a mapping against a table.
 */

static unsigned
schema_kind_bit(const struct yamltree_node *v)
{
	switch (v->kind) {
	case YAMLTREE_SCALAR:
		return SCHEMA_T_SCALAR;
	case YAMLTREE_SEQUENCE:
		return SCHEMA_T_LIST;
	case YAMLTREE_MAPPING:
		return SCHEMA_T_MAP;
	}
	return 0;
}


static bool
schema_type_ok(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v)
{
	if ((k->types & schema_kind_bit(v)) == 0) {
		diag_error(ctx->diag, &v->mark, "'%s' must be %s, not %s",
		    k->name, k->expect, yamltree_kind_name(v));
		return false;
	}
	/* "key:" with nothing after it reads as an empty plain scalar. */
	if (v->kind == YAMLTREE_SCALAR && !v->quoted && v->text[0] == '\0') {
		diag_error(ctx->diag, &v->mark, "'%s' has no value; it must "
		    "be %s", k->name, k->expect);
		return false;
	}
	return true;
}


void
schema_walk(struct schema_ctx *ctx, const struct yamltree_node *map,
    const struct schema_key *keys, void *target)
{
	const struct yamltree_pair	*pair;
	const struct schema_key		*k;
	struct schema_near		 near;
	size_t				 i;

	for (i = 0; i < map->npairs; i++) {
		pair = &map->pairs[i];
		for (k = keys; k->name != NULL; k++) {
			if (strcmp(k->name, pair->key->text) == 0) {
				break;
			}
		}
		if (k->name == NULL) {
			memset(&near, 0, sizeof(near));
			near.word = pair->key->text;
			for (k = keys; k->name != NULL; k++) {
				schema_near_try(&near, k->name);
			}
			schema_unknown(ctx, &pair->key->mark, "key", &near);
		} else if (schema_type_ok(ctx, k, pair->value)) {
			k->set(ctx, k, pair->value, target);
		}
	}
}


/*
 * The generic setters.
 */

void
schema_set_section(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	schema_walk(ctx, v, k->arg, (char *)target + k->offset);
}


void
schema_set_node(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	const struct yamltree_node	**dst;

	(void)ctx;

	dst = (const struct yamltree_node **)((char *)target + k->offset);
	*dst = v;
}


void
schema_set_string(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	char	**dst = (char **)((char *)target + k->offset);

	if (v->text[0] == '\0') {
		diag_error(ctx->diag, &v->mark, "'%s' must not be empty",
		    k->name);
		return;
	}
	if ((*dst = strdup(v->text)) == NULL) {
		schema_nomem(ctx, &v->mark);
	}
}


/* The enums of the tables start at 0 and count up in the order of
 * their names; GCC and Clang give such an enum the size of an int, and
 * the files with the tables assert it. */
void
schema_set_enum(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	const char *const	*names = k->arg;
	int			 i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], v->text) == 0) {
			memcpy((char *)target + k->offset, &i, sizeof(i));
			return;
		}
	}
	diag_error(ctx->diag, &v->mark, "bad value '%s' for '%s': use %s",
	    v->text, k->name, k->expect);
}


void
schema_set_bool(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	bool	*dst = (bool *)((char *)target + k->offset);

	if (!v->quoted && (strcmp(v->text, "true") == 0 ||
	    strcmp(v->text, "True") == 0 || strcmp(v->text, "TRUE") == 0)) {
		*dst = true;
	} else if (!v->quoted && (strcmp(v->text, "false") == 0 ||
	    strcmp(v->text, "False") == 0 || strcmp(v->text, "FALSE") == 0)) {
		*dst = false;
	} else if (v->quoted) {
		diag_error(ctx->diag, &v->mark, "'%s' must be true or false, "
		    "not the quoted string \"%s\"", k->name, v->text);
	} else {
		diag_error(ctx->diag, &v->mark, "'%s' must be true or false, "
		    "not '%s'", k->name, v->text);
	}
}


void
schema_set_count(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	long	 n;

	if (schema_number(v, &n) == -1) {
		schema_bad_number(ctx, k, v);
	} else if (n == 0) {
		diag_error(ctx->diag, &v->mark, "'%s' must be more than 0",
		    k->name);
	} else {
		*(size_t *)((char *)target + k->offset) = (size_t)n;
	}
}


/*
 * Sizes and durations.
 */

/* For a size written with a decimal or a bare-letter unit, the binary
 * unit that was probably meant; NULL when nothing fits. */
static const char *
schema_size_hint(const char *rest)
{
	static const char *const hints[][2] = {
		{ "K", "KiB" }, { "KB", "KiB" }, { "k", "KiB" },
		{ "kB", "KiB" }, { "kb", "KiB" }, { "Ki", "KiB" },
		{ "KIB", "KiB" }, { "kib", "KiB" },
		{ "M", "MiB" }, { "MB", "MiB" }, { "mb", "MiB" },
		{ "Mi", "MiB" }, { "MIB", "MiB" }, { "mib", "MiB" },
		{ "G", "GiB" }, { "GB", "GiB" }, { "gb", "GiB" },
		{ "Gi", "GiB" }, { "GIB", "GiB" }, { "gib", "GiB" },
		{ "b", "B" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		if (strcmp(rest, hints[i][0]) == 0) {
			return hints[i][1];
		}
	}
	return NULL;
}


static void
schema_bad_size(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v)
{
	const char	*rest = v->text, *hint = NULL;
	size_t		 digits;

	digits = strspn(v->text, "0123456789");
	if (digits > 0) {
		rest = v->text + digits;
		hint = schema_size_hint(rest);
	}
	if (hint != NULL) {
		diag_error(ctx->diag, &v->mark, "bad size '%s' for '%s': "
		    "sizes count in B, KiB, MiB or GiB (powers of 1024); "
		    "write %.*s%s", v->text, k->name, (int)digits, v->text,
		    hint);
	} else {
		diag_error(ctx->diag, &v->mark, "bad size '%s' for '%s': use "
		    "a number of bytes, or one with B, KiB, MiB or GiB",
		    v->text, k->name);
	}
}


void
schema_set_size(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 n;

	if (confvalue_parse_size(v->text, &n) == -1) {
		schema_bad_size(ctx, k, v);
	} else if (n == 0) {
		diag_error(ctx->diag, &v->mark, "'%s' must be more than 0",
		    k->name);
	} else {
		*(size_t *)((char *)target + k->offset) = n;
	}
}


void
schema_set_duration(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	long	 ms;

	ms = confvalue_parse_duration(v->text);
	if (ms == -1 && confvalue_is_digits(v->text)) {
		diag_error(ctx->diag, &v->mark, "bad duration '%s' for '%s': "
		    "add a unit, as in %ss or %sms", v->text, k->name,
		    v->text, v->text);
	} else if (ms == -1) {
		diag_error(ctx->diag, &v->mark, "bad duration '%s' for '%s': "
		    "use a number with ms, s or m", v->text, k->name);
	} else if (ms == 0) {
		diag_error(ctx->diag, &v->mark, "'%s' must be more than 0",
		    k->name);
	} else {
		*(long *)((char *)target + k->offset) = ms;
	}
}
