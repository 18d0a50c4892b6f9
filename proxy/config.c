/*
 * The configuration loader: proxy.yaml, policy files, the development
 * defaults and the command-line overrides, into one struct config.
 *
 * The YAML is read into a tree first (yamltree.c) and then walked
 * against tables of keys, one row per key naming the node kinds it
 * accepts and the setter that stores it, in the manner of nginx's
 * directive tables: adding a key is adding a row.  Nothing stops at
 * the first mistake.  Each setter reports its own errors at the line
 * and column of the offending node and the walk goes on, so one run of
 * --check shows every problem in the file.
 *
 * What refers to something by name (a route's upstream group and
 * policies) is resolved only once every key has been read, because a
 * YAML mapping does not order its keys, and because -p and -o may
 * replace the policies after the file is read.
 *
 * Every diag_mark copied into the config points at conf->file, at
 * policies.file or at a string constant, so the marks live exactly as
 * long as the config.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "yamltree.h"

/* The "file" of whatever no file defined. */
#define CONFIG_DEFAULTS_FILE	"(defaults)"

#define CONFIG_WORKERS_MAX	1024
#define CONFIG_NUMBER_MAX	INT_MAX
#define CONFIG_ERRLEN		512

/* Words longer than this get no "did you mean" suggestion. */
#define CONFIG_SUGGEST_LEN	64

/* The node kinds a key accepts. */
#define CONFIG_T_SCALAR		0x1
#define CONFIG_T_LIST		0x2
#define CONFIG_T_MAP		0x4

/* The names a route refers to, kept as nodes until all are known. */
struct config_route_ref {
	const struct yamltree_node	*upstream;
	const struct yamltree_node	*policies;
};

struct config_route_draft {
	struct config_route		 route;
	struct config_route_ref		 ref;
};

struct config_regex_draft {
	const struct yamltree_node	*regex;
};

struct config_ctx {
	struct config			*conf;
	struct diag			*diag;
	char				*dir;	/* the config file's, with
						 * its '/', or "" */
	struct yamltree_node		*root;	/* the config file's tree */
	const struct yamltree_node	*policies; /* its "policies" value */
	struct config_route_ref		*refs;	/* one per conf->routes */
	bool				 origins_override; /* -o given */
};

struct config_key;

typedef void	config_setter(struct config_ctx *, const struct config_key *,
		    const struct yamltree_node *, void *target);

/*
 * One row of a key table.  The setter gets the value node and the
 * struct being filled; offset says where in that struct the key's
 * field is, and arg carries what a generic setter needs besides: the
 * names of an enum, a nested table, or the noun for a list's items.
 */
struct config_key {
	const char		*name;
	unsigned		 types;
	const char		*expect;	/* "must be ..." in messages */
	config_setter		*set;
	size_t			 offset;
	const void		*arg;
};

/* A running search for the known name nearest to a misspelt one. */
struct config_near {
	const char	*word;
	const char	*best;
	size_t		 distance;
};

static config_setter	config_set_listen, config_set_address;
static config_setter	config_set_workers, config_set_admin;
static config_setter	config_set_upstream, config_set_upstreams;
static config_setter	config_set_servers, config_set_host_mode;
static config_setter	config_set_routes, config_set_path;
static config_setter	config_set_policies, config_set_policy_list;
static config_setter	config_set_name, config_set_origins;
static config_setter	config_set_tokens, config_set_bool;
static config_setter	config_set_max_age, config_set_section;
static config_setter	config_set_size, config_set_count;
static config_setter	config_set_duration, config_set_string;
static config_setter	config_set_enum, config_set_node;

static const char *const config_log_levels[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const config_log_formats[] = { "text", "json", NULL };
static const char *const config_preflights[] = { "answer", "forward", NULL };
static const char *const config_modes[] = { "enforce", "report", NULL };
static const char *const config_denied[] = { "forward", "reject", NULL };

#define CONFIG_END	{ NULL, 0, NULL, NULL, 0, NULL }

static const struct config_key config_limits_keys[] = {
	{ "header_bytes", CONFIG_T_SCALAR, "a size such as 32KiB",
	    config_set_size, offsetof(struct config_limits, header_bytes),
	    NULL },
	{ "header_count", CONFIG_T_SCALAR, "a number",
	    config_set_count, offsetof(struct config_limits, header_count),
	    NULL },
	{ "body_bytes", CONFIG_T_SCALAR, "a size such as 10MiB",
	    config_set_size, offsetof(struct config_limits, body_bytes),
	    NULL },
	{ "connections", CONFIG_T_SCALAR, "a number",
	    config_set_count, offsetof(struct config_limits, connections),
	    NULL },
	CONFIG_END
};

#define CONFIG_TIMEOUT(name) \
	{ #name, CONFIG_T_SCALAR, "a duration such as 10s", \
	    config_set_duration, offsetof(struct config_timeouts, name), NULL }

static const struct config_key config_timeouts_keys[] = {
	CONFIG_TIMEOUT(client_header),
	CONFIG_TIMEOUT(client_idle),
	CONFIG_TIMEOUT(upstream_connect),
	CONFIG_TIMEOUT(upstream_read),
	CONFIG_TIMEOUT(shutdown),
	CONFIG_END
};

static const struct config_key config_log_keys[] = {
	{ "level", CONFIG_T_SCALAR, "error, warn, info or debug",
	    config_set_enum, offsetof(struct config_log, level),
	    config_log_levels },
	{ "access", CONFIG_T_SCALAR, "stderr, off or a file path",
	    config_set_string, offsetof(struct config_log, access), NULL },
	{ "format", CONFIG_T_SCALAR, "text or json",
	    config_set_enum, offsetof(struct config_log, format),
	    config_log_formats },
	CONFIG_END
};

static const struct config_key config_listen_keys[] = {
	{ "address", CONFIG_T_SCALAR, "\"host:port\"",
	    config_set_address, 0, NULL },
	{ "cert", CONFIG_T_SCALAR, "a file path",
	    config_set_string, offsetof(struct config_listen, cert), NULL },
	{ "key", CONFIG_T_SCALAR, "a file path",
	    config_set_string, offsetof(struct config_listen, key), NULL },
	CONFIG_END
};

static const struct config_key config_group_keys[] = {
	{ "servers", CONFIG_T_SCALAR | CONFIG_T_LIST,
	    "a URL or a list of URLs", config_set_servers, 0, NULL },
	{ "host", CONFIG_T_SCALAR, "upstream, client or a host name",
	    config_set_host_mode, 0, NULL },
	{ "ca_file", CONFIG_T_SCALAR, "a file path",
	    config_set_string, offsetof(struct config_upstream, ca_file),
	    NULL },
	CONFIG_END
};

static const struct config_key config_route_keys[] = {
	{ "path", CONFIG_T_SCALAR, "a path starting with /",
	    config_set_path, 0, NULL },
	{ "host", CONFIG_T_SCALAR, "a host name",
	    config_set_string,
	    offsetof(struct config_route_draft, route.host), NULL },
	{ "upstream", CONFIG_T_SCALAR, "the name of an upstream group",
	    config_set_node,
	    offsetof(struct config_route_draft, ref.upstream), NULL },
	{ "policies", CONFIG_T_SCALAR | CONFIG_T_LIST,
	    "a list of policy names", config_set_node,
	    offsetof(struct config_route_draft, ref.policies), NULL },
	{ "preflight", CONFIG_T_SCALAR, "answer or forward",
	    config_set_enum,
	    offsetof(struct config_route_draft, route.preflight),
	    config_preflights },
	CONFIG_END
};

static const struct config_key config_regex_keys[] = {
	{ "regex", CONFIG_T_SCALAR, "a regular expression",
	    config_set_node, offsetof(struct config_regex_draft, regex),
	    NULL },
	CONFIG_END
};

static const struct config_key config_policy_keys[] = {
	{ "name", CONFIG_T_SCALAR, "a name", config_set_name, 0, NULL },
	{ "origins", CONFIG_T_LIST, "a list of origins",
	    config_set_origins, 0, NULL },
	{ "allow_methods", CONFIG_T_SCALAR | CONFIG_T_LIST,
	    "a list of methods or '*'", config_set_tokens,
	    offsetof(struct policy, allow_methods), "method" },
	{ "allow_headers", CONFIG_T_SCALAR | CONFIG_T_LIST,
	    "a list of header names or '*'", config_set_tokens,
	    offsetof(struct policy, allow_headers), "header name" },
	{ "expose_headers", CONFIG_T_SCALAR | CONFIG_T_LIST,
	    "a list of header names or '*'", config_set_tokens,
	    offsetof(struct policy, expose_headers), "header name" },
	{ "allow_credentials", CONFIG_T_SCALAR, "true or false",
	    config_set_bool, offsetof(struct policy, allow_credentials),
	    NULL },
	{ "max_age", CONFIG_T_SCALAR, "a number of seconds",
	    config_set_max_age, 0, NULL },
	{ "allow_private_network", CONFIG_T_SCALAR, "true or false",
	    config_set_bool,
	    offsetof(struct policy, allow_private_network), NULL },
	{ "on_denied", CONFIG_T_SCALAR, "forward or reject",
	    config_set_enum, offsetof(struct policy, on_denied),
	    config_denied },
	CONFIG_END
};

/* A policy file, and the same block written inline. */
static const struct config_key config_policy_file_keys[] = {
	{ "mode", CONFIG_T_SCALAR, "enforce or report",
	    config_set_enum, offsetof(struct policy_set, mode),
	    config_modes },
	{ "policies", CONFIG_T_LIST, "a list of policies",
	    config_set_policy_list, 0, NULL },
	CONFIG_END
};

static const struct config_key config_keys[] = {
	{ "listen", CONFIG_T_SCALAR | CONFIG_T_LIST | CONFIG_T_MAP,
	    "\"host:port\" or a list of them", config_set_listen, 0, NULL },
	{ "workers", CONFIG_T_SCALAR, "a number or 'auto'",
	    config_set_workers, 0, NULL },
	{ "upstream", CONFIG_T_SCALAR, "a URL such as http://127.0.0.1:3000",
	    config_set_upstream, 0, NULL },
	{ "upstreams", CONFIG_T_MAP, "a mapping of group names to groups",
	    config_set_upstreams, 0, NULL },
	{ "routes", CONFIG_T_LIST, "a list of routes",
	    config_set_routes, 0, NULL },
	{ "policies", CONFIG_T_SCALAR | CONFIG_T_LIST | CONFIG_T_MAP,
	    "a policy file, a list of policies or a mapping with 'policies'",
	    config_set_policies, 0, NULL },
	{ "limits", CONFIG_T_MAP, "a mapping", config_set_section,
	    offsetof(struct config, limits), config_limits_keys },
	{ "timeouts", CONFIG_T_MAP, "a mapping", config_set_section,
	    offsetof(struct config, timeouts), config_timeouts_keys },
	{ "log", CONFIG_T_MAP, "a mapping", config_set_section,
	    offsetof(struct config, log), config_log_keys },
	{ "admin", CONFIG_T_SCALAR, "\"host:port\"",
	    config_set_admin, 0, NULL },
	CONFIG_END
};

/* The methods a policy allows when it names none. */
static const char *const config_default_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", NULL
};

/* The origins of the development defaults. */
static const char *const config_dev_origins[] = {
	"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*", NULL
};


/*
 * Small helpers: memory, names, numbers.
 */

static void
config_nomem(struct config_ctx *ctx, const struct diag_mark *mark)
{
	diag_error(ctx->diag, mark, "out of memory");
}


/* Returns array grown by one zeroed element at index n, or NULL (the
 * old array is then still valid). */
static void *
config_append(void *array, size_t n, size_t size)
{
	char	*grown;

	grown = reallocarray(array, n + 1, size);
	if (grown == NULL) {
		return NULL;
	}
	memset(grown + n * size, 0, size);
	return grown;
}


static bool
config_is_digits(const char *s)
{
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s)) {
			return false;
		}
	}
	return true;
}


/* Reads a plain, unquoted decimal number no larger than max. */
static int
config_number(const struct yamltree_node *v, long max, long *out)
{
	unsigned long long	 n = 0;
	const char		*s;

	if (v->quoted || !config_is_digits(v->text)) {
		return -1;
	}
	for (s = v->text; *s != '\0'; s++) {
		n = n * 10 + (unsigned long long)(*s - '0');
		if (n > (unsigned long long)max) {
			return -1;
		}
	}
	*out = (long)n;
	return 0;
}


/* The HTTP token characters (RFC 9110, section 5.6.2). */
static bool
config_is_token(const char *s)
{
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL) {
			return false;
		}
	}
	return true;
}


/* Names that land in logs and metrics labels stay plain. */
static bool
config_is_name(const char *s)
{
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("-_.", *s) == NULL) {
			return false;
		}
	}
	return true;
}


static void
config_bad_number(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v)
{
	if (v->quoted && config_is_digits(v->text)) {
		diag_error(ctx->diag, &v->mark, "'%s' must be %s, not the "
		    "quoted string \"%s\": remove the quotes", k->name,
		    k->expect, v->text);
	} else {
		diag_error(ctx->diag, &v->mark, "'%s' must be %s, not '%s'",
		    k->name, k->expect, v->text);
	}
}


static bool
config_swapped(const char *a, const char *b)
{
	return tolower((unsigned char)a[0]) == tolower((unsigned char)b[1]) &&
	    tolower((unsigned char)a[1]) == tolower((unsigned char)b[0]);
}


/*
 * "Did you mean": the optimal string alignment distance, which counts a
 * swap of two neighbours as one edit, ignoring case.
 */
static size_t
config_distance(const char *a, const char *b)
{
	size_t	 d[CONFIG_SUGGEST_LEN + 1][CONFIG_SUGGEST_LEN + 1];
	size_t	 la = strlen(a), lb = strlen(b), i, j, cost, best;

	if (la > CONFIG_SUGGEST_LEN || lb > CONFIG_SUGGEST_LEN) {
		return SIZE_MAX;
	}
	for (i = 0; i <= la; i++) {
		d[i][0] = i;
	}
	for (j = 0; j <= lb; j++) {
		d[0][j] = j;
	}
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			best = d[i - 1][j - 1] + cost;
			best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
			best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
			if (i > 1 && j > 1 && config_swapped(a + i - 2,
			    b + j - 2) && d[i - 2][j - 2] + 1 < best) {
				best = d[i - 2][j - 2] + 1;
			}
			d[i][j] = best;
		}
	}
	return d[la][lb];
}


/* Short words allow one edit, longer ones two, so that "foo" is not
 * taken for "log". */
static void
config_near_try(struct config_near *near, const char *candidate)
{
	size_t	 limit, dist;

	limit = strlen(near->word) <= 4 ? 1 : 2;
	dist = config_distance(near->word, candidate);
	if (dist <= limit && (near->best == NULL || dist < near->distance)) {
		near->best = candidate;
		near->distance = dist;
	}
}


/* Reports an unknown name with the nearest known one, if any. */
static void
config_unknown(struct config_ctx *ctx, const struct diag_mark *mark,
    const char *what, const struct config_near *near)
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
config_kind_bit(const struct yamltree_node *v)
{
	switch (v->kind) {
	case YAMLTREE_SCALAR:
		return CONFIG_T_SCALAR;
	case YAMLTREE_SEQUENCE:
		return CONFIG_T_LIST;
	case YAMLTREE_MAPPING:
		return CONFIG_T_MAP;
	}
	return 0;
}


static bool
config_type_ok(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v)
{
	if ((k->types & config_kind_bit(v)) == 0) {
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


static void
config_walk(struct config_ctx *ctx, const struct yamltree_node *map,
    const struct config_key *keys, void *target)
{
	const struct yamltree_pair	*pair;
	const struct config_key		*k;
	struct config_near		 near;
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
				config_near_try(&near, k->name);
			}
			config_unknown(ctx, &pair->key->mark, "key", &near);
		} else if (config_type_ok(ctx, k, pair->value)) {
			k->set(ctx, k, pair->value, target);
		}
	}
}


static void
config_set_section(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	config_walk(ctx, v, k->arg, (char *)target + k->offset);
}


static void
config_set_node(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	const struct yamltree_node	**dst;

	dst = (const struct yamltree_node **)((char *)target + k->offset);
	*dst = v;
}


static void
config_set_string(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	char	**dst = (char **)((char *)target + k->offset);

	if (v->text[0] == '\0') {
		diag_error(ctx->diag, &v->mark, "'%s' must not be empty",
		    k->name);
		return;
	}
	if ((*dst = strdup(v->text)) == NULL) {
		config_nomem(ctx, &v->mark);
	}
}


/* Every enum here starts at 0 and counts up in the order of its names;
 * GCC and Clang give such an enum the size of an int. */
static void
config_set_enum(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	const char *const	*names = k->arg;
	int			 i;

	_Static_assert(sizeof(enum config_log_level) == sizeof(int),
	    "enums are stored as int");
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], v->text) == 0) {
			memcpy((char *)target + k->offset, &i, sizeof(i));
			return;
		}
	}
	diag_error(ctx->diag, &v->mark, "bad value '%s' for '%s': use %s",
	    v->text, k->name, k->expect);
}


static void
config_set_bool(struct config_ctx *ctx, const struct config_key *k,
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


static void
config_set_count(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	long	 n;

	if (config_number(v, CONFIG_NUMBER_MAX, &n) == -1) {
		config_bad_number(ctx, k, v);
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

/* Splits the leading digits off s; returns their value or -1 when
 * there are none or they overflow max. */
static long long
config_leading_number(const char *s, long long max, const char **rest)
{
	long long	 n = 0;

	if (!isdigit((unsigned char)*s)) {
		return -1;
	}
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (max - (*s - '0')) / 10) {
			return -1;
		}
		n = n * 10 + (*s - '0');
	}
	*rest = s;
	return n;
}


int
config_parse_size(const char *s, size_t *out)
{
	static const struct {
		const char	*suffix;
		long long	 scale;
	} units[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", 1LL << 10 },
		{ "MiB", 1LL << 20 }, { "GiB", 1LL << 30 },
	};
	const char	*rest;
	long long	 n, max;
	size_t		 i;

	max = SIZE_MAX < LLONG_MAX ? (long long)SIZE_MAX : LLONG_MAX;
	if ((n = config_leading_number(s, max, &rest)) == -1) {
		return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].suffix) == 0) {
			if (n > max / units[i].scale) {
				return -1;
			}
			*out = (size_t)(n * units[i].scale);
			return 0;
		}
	}
	return -1;
}


long
config_parse_duration(const char *s)
{
	static const struct {
		const char	*suffix;
		long		 scale;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
	};
	const char	*rest;
	long long	 n;
	size_t		 i;

	if ((n = config_leading_number(s, LONG_MAX, &rest)) == -1) {
		return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(rest, units[i].suffix) == 0) {
			if (n > LONG_MAX / units[i].scale) {
				return -1;
			}
			return (long)n * units[i].scale;
		}
	}
	return -1;
}


/* For a size written with a decimal or a bare-letter unit, the binary
 * unit that was probably meant; NULL when nothing fits. */
static const char *
config_size_hint(const char *rest)
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
config_bad_size(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v)
{
	const char	*rest = v->text, *hint = NULL;
	size_t		 digits;

	digits = strspn(v->text, "0123456789");
	if (digits > 0) {
		rest = v->text + digits;
		hint = config_size_hint(rest);
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


static void
config_set_size(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 n;

	if (config_parse_size(v->text, &n) == -1) {
		config_bad_size(ctx, k, v);
	} else if (n == 0) {
		diag_error(ctx->diag, &v->mark, "'%s' must be more than 0",
		    k->name);
	} else {
		*(size_t *)((char *)target + k->offset) = n;
	}
}


static void
config_set_duration(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	long	 ms;

	ms = config_parse_duration(v->text);
	if (ms == -1 && config_is_digits(v->text)) {
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


/*
 * Addresses and upstream URLs.
 */

static int
config_fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
config_fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}


/* A host name or IPv4 address: what a resolver will be asked for. */
static bool
config_is_host(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 253) {
		return false;
	}
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("-._", s[i]) == NULL) {
			return false;
		}
	}
	return true;
}


static bool
config_is_ipv6(const char *s, size_t len)
{
	char		 buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr	 addr;

	if (len == 0 || len >= sizeof(buf)) {
		return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &addr) == 1;
}


/* A port of 0 to 65535; the callers decide whether 0 makes sense. */
static int
config_port(const char *s, size_t len)
{
	size_t	 i;
	int	 port = 0;

	if (len == 0 || len > 5) {
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i])) {
			return -1;
		}
		port = port * 10 + (s[i] - '0');
	}
	return port <= 65535 ? port : -1;
}


/*
 * Splits the len bytes of "host[:port]" or "[v6][:port]" into a
 * malloc'ed host without brackets and a port, -1 when none is written.
 */
static int
config_split_host(const char *s, size_t len, char **host, int *port)
{
	const char	*h = s, *p = NULL, *close;
	size_t		 hlen, plen = 0;

	if (len > 0 && s[0] == '[') {
		if ((close = memchr(s, ']', len)) == NULL) {
			return -1;
		}
		h = s + 1;
		hlen = close - h;
		if (!config_is_ipv6(h, hlen)) {
			return -1;
		}
		if (close + 1 < s + len) {
			if (close[1] != ':') {
				return -1;
			}
			p = close + 2;
			plen = len - (p - s);
		}
	} else {
		close = memchr(s, ':', len);
		hlen = close != NULL ? (size_t)(close - s) : len;
		if (close != NULL) {
			p = close + 1;
			plen = len - hlen - 1;
		}
		if (!config_is_host(s, hlen)) {
			return -1;
		}
	}

	*port = -1;
	if (p != NULL && (*port = config_port(p, plen)) == -1) {
		return -1;
	}
	*host = strndup(h, hlen);
	return *host == NULL ? -1 : 0;
}


int
config_parse_hostport(const char *s, char **host, int *port)
{
	char	*h;
	int	 p;

	if (config_split_host(s, strlen(s), &h, &p) == -1) {
		return -1;
	}
	if (p == -1) {
		free(h);
		return -1;
	}
	*host = h;
	*port = p;
	return 0;
}


/* What may follow the host and port of an upstream URL: nothing or
 * "/", since the request's own target is forwarded as it came. */
static int
config_check_url_rest(const char *rest, char *errbuf, size_t errlen)
{
	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		return 0;
	}
	if (rest[0] == '?') {
		return config_fail(errbuf, errlen, "a query is not allowed; "
		    "the client's own query is forwarded");
	}
	if (rest[0] == '#') {
		return config_fail(errbuf, errlen, "a fragment is not allowed");
	}
	return config_fail(errbuf, errlen, "a path is not allowed; the "
	    "client's own path is forwarded unchanged");
}


static void
config_server_clear(struct config_server *srv)
{
	free(srv->url);
	free(srv->host);
	memset(srv, 0, sizeof(*srv));
}


int
config_parse_server(const char *url, struct config_server *srv,
    char *errbuf, size_t errlen)
{
	const char	*auth;
	size_t		 alen;
	bool		 tls = strncasecmp(url, "https://", 8) == 0;

	if (!tls && strncasecmp(url, "http://", 7) != 0) {
		return config_fail(errbuf, errlen, "use http:// or https://");
	}
	auth = url + (tls ? 8 : 7);
	alen = strcspn(auth, "/?#");
	if (memchr(auth, '@', alen) != NULL) {
		return config_fail(errbuf, errlen, "user information "
		    "(user@host) is not supported");
	}
	if (config_check_url_rest(auth + alen, errbuf, errlen) == -1) {
		return -1;
	}

	memset(srv, 0, sizeof(*srv));
	if (alen == 0 ||
	    config_split_host(auth, alen, &srv->host, &srv->port) == -1) {
		return config_fail(errbuf, errlen, "bad host or port");
	}
	if (srv->port == 0) {
		config_server_clear(srv);
		return config_fail(errbuf, errlen, "the port must be 1 to "
		    "65535");
	}
	srv->tls = tls;
	srv->port = srv->port == -1 ? (tls ? 443 : 80) : srv->port;
	if ((srv->url = strdup(url)) == NULL) {
		config_server_clear(srv);
		return config_fail(errbuf, errlen, "out of memory");
	}
	return 0;
}


/*
 * Listeners, workers and the admin address.
 */

/* Reads "host:port"; port 0 asks the kernel for a free port, which
 * the start-up line then reports (the tests listen that way). */
static int
config_address(struct config_ctx *ctx, const struct yamltree_node *v,
    const char *what, char **host, int *port)
{
	if (config_parse_hostport(v->text, host, port) == -1) {
		diag_error(ctx->diag, &v->mark, "bad address '%s' for '%s': "
		    "use HOST:PORT, or [IPv6]:PORT", v->text, what);
		return -1;
	}
	return 0;
}


static struct config_listen *
config_new_listen(struct config_ctx *ctx, const struct diag_mark *mark)
{
	struct config		*conf = ctx->conf;
	struct config_listen	*listens;

	listens = config_append(conf->listens, conf->nlistens,
	    sizeof(*listens));
	if (listens == NULL) {
		config_nomem(ctx, mark);
		return NULL;
	}
	conf->listens = listens;
	listens[conf->nlistens].mark = *mark;
	return &listens[conf->nlistens++];
}


static void
config_check_listen(struct config_ctx *ctx, const struct yamltree_node *item)
{
	const struct yamltree_node	*cert, *key;

	cert = yamltree_get(item, "cert");
	key = yamltree_get(item, "key");
	if (yamltree_get(item, "address") == NULL) {
		diag_error(ctx->diag, &item->mark, "a 'listen' mapping needs "
		    "'address'");
	}
	if (cert != NULL && key == NULL) {
		diag_error(ctx->diag, &cert->mark, "'cert' needs 'key' too: "
		    "TLS takes a certificate and its private key");
	}
	if (key != NULL && cert == NULL) {
		diag_error(ctx->diag, &key->mark, "'key' needs 'cert' too: "
		    "TLS takes a certificate and its private key");
	}
}


static void
config_add_listen(struct config_ctx *ctx, const struct yamltree_node *item)
{
	struct config_listen	*l;

	if (item->kind == YAMLTREE_SEQUENCE) {
		diag_error(ctx->diag, &item->mark, "each 'listen' item must "
		    "be \"host:port\" or a mapping with 'address', not a list");
		return;
	}
	if ((l = config_new_listen(ctx, &item->mark)) == NULL) {
		return;
	}
	if (item->kind == YAMLTREE_SCALAR) {
		config_address(ctx, item, "listen", &l->host, &l->port);
		return;
	}
	config_walk(ctx, item, config_listen_keys, l);
	config_check_listen(ctx, item);
}


static void
config_set_listen(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 i;

	if (v->kind != YAMLTREE_SEQUENCE) {
		config_add_listen(ctx, v);
		return;
	}
	if (v->nitems == 0) {
		diag_error(ctx->diag, &v->mark, "'listen' must not be empty");
	}
	for (i = 0; i < v->nitems; i++) {
		config_add_listen(ctx, v->items[i]);
	}
}


static void
config_set_address(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_listen	*l = target;

	config_address(ctx, v, k->name, &l->host, &l->port);
}


static void
config_set_admin(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	char	*host;
	int	 port;

	if (config_address(ctx, v, k->name, &host, &port) == -1) {
		return;
	}
	free(host);
	if ((ctx->conf->admin = strdup(v->text)) == NULL) {
		config_nomem(ctx, &v->mark);
	}
}


static void
config_set_workers(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	long	 n;

	if (strcmp(v->text, "auto") == 0) {
		ctx->conf->workers = 0;
	} else if (config_number(v, CONFIG_NUMBER_MAX, &n) == -1) {
		config_bad_number(ctx, k, v);
	} else if (n < 1 || n > CONFIG_WORKERS_MAX) {
		diag_error(ctx->diag, &v->mark, "'workers' must be 1 to %d, "
		    "or 'auto' for one per CPU", CONFIG_WORKERS_MAX);
	} else {
		ctx->conf->workers = (int)n;
	}
}


/*
 * Upstream groups.
 */

static void
config_upstream_clear(struct config_upstream *g)
{
	size_t	 i;

	for (i = 0; i < g->nservers; i++) {
		config_server_clear(&g->servers[i]);
	}
	free(g->servers);
	free(g->name);
	free(g->host_name);
	free(g->ca_file);
}


static struct config_upstream *
config_find_group(const struct config *conf, const char *name, size_t *index)
{
	size_t	 i;

	for (i = 0; i < conf->nupstreams; i++) {
		if (conf->upstreams[i].name != NULL &&
		    strcmp(conf->upstreams[i].name, name) == 0) {
			if (index != NULL) {
				*index = i;
			}
			return &conf->upstreams[i];
		}
	}
	return NULL;
}


static struct config_upstream *
config_add_group(struct config_ctx *ctx, const char *name,
    const struct diag_mark *mark)
{
	struct config		*conf = ctx->conf;
	struct config_upstream	*groups, *g;

	if ((g = config_find_group(conf, name, NULL)) != NULL) {
		diag_error(ctx->diag, mark, "upstream group '%s' is already "
		    "defined at line %d", name, g->mark.line);
		return NULL;
	}
	groups = config_append(conf->upstreams, conf->nupstreams,
	    sizeof(*groups));
	if (groups == NULL) {
		config_nomem(ctx, mark);
		return NULL;
	}
	conf->upstreams = groups;
	g = &groups[conf->nupstreams++];
	g->mark = *mark;
	g->host_mode = CONFIG_HOST_UPSTREAM;
	if ((g->name = strdup(name)) == NULL) {
		config_nomem(ctx, mark);
	}
	return g;
}


static void
config_add_server(struct config_ctx *ctx, struct config_upstream *g,
    const char *url, const struct diag_mark *mark)
{
	struct config_server	 srv, *servers;
	char			 errbuf[CONFIG_ERRLEN];

	if (config_parse_server(url, &srv, errbuf, sizeof(errbuf)) == -1) {
		diag_error(ctx->diag, mark, "bad upstream URL '%s': %s", url,
		    errbuf);
		return;
	}
	srv.mark = *mark;
	servers = config_append(g->servers, g->nservers, sizeof(*servers));
	if (servers == NULL) {
		config_server_clear(&srv);
		config_nomem(ctx, mark);
		return;
	}
	g->servers = servers;
	g->servers[g->nservers++] = srv;
}


/* "upstream: URL" is the group "default" with one server. */
static void
config_set_upstream(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_upstream	*g;

	if ((g = config_add_group(ctx, "default", &v->mark)) != NULL) {
		config_add_server(ctx, g, v->text, &v->mark);
	}
}


static void
config_add_upstreams_group(struct config_ctx *ctx,
    const struct yamltree_pair *pair)
{
	const struct yamltree_node	*key = pair->key, *v = pair->value;
	struct config_upstream		*g;

	if (v->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->diag, &v->mark, "upstream group '%s' must be "
		    "a mapping with 'servers', not %s", key->text,
		    yamltree_kind_name(v));
		return;
	}
	if (!config_is_name(key->text)) {
		diag_error(ctx->diag, &key->mark, "bad upstream group name "
		    "'%s': use letters, digits, '-', '_' and '.'", key->text);
		return;
	}
	if ((g = config_add_group(ctx, key->text, &key->mark)) == NULL) {
		return;
	}
	config_walk(ctx, v, config_group_keys, g);
	if (yamltree_get(v, "servers") == NULL) {
		diag_error(ctx->diag, &key->mark, "upstream group '%s' needs "
		    "'servers'", key->text);
	}
}


static void
config_set_upstreams(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 i;

	if (v->npairs == 0) {
		diag_error(ctx->diag, &v->mark, "'upstreams' must not be "
		    "empty");
	}
	for (i = 0; i < v->npairs; i++) {
		config_add_upstreams_group(ctx, &v->pairs[i]);
	}
}


static void
config_set_servers(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_upstream		*g = target;
	const struct yamltree_node	*item;
	size_t				 i;

	if (v->kind == YAMLTREE_SCALAR) {
		config_add_server(ctx, g, v->text, &v->mark);
		return;
	}
	if (v->nitems == 0) {
		diag_error(ctx->diag, &v->mark, "'servers' must not be empty");
	}
	for (i = 0; i < v->nitems; i++) {
		item = v->items[i];
		if (item->kind != YAMLTREE_SCALAR) {
			diag_error(ctx->diag, &item->mark, "each server must "
			    "be a URL, not %s", yamltree_kind_name(item));
		} else {
			config_add_server(ctx, g, item->text, &item->mark);
		}
	}
}


/* The Host header sent upstream; a literal name goes into a header, so
 * it gets the same strict check as a host in a URL. */
static void
config_set_host_mode(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_upstream	*g = target;
	char			*host;
	int			 port;

	if (strcmp(v->text, "upstream") == 0) {
		g->host_mode = CONFIG_HOST_UPSTREAM;
	} else if (strcmp(v->text, "client") == 0) {
		g->host_mode = CONFIG_HOST_CLIENT;
	} else if (config_split_host(v->text, strlen(v->text), &host,
	    &port) == -1) {
		diag_error(ctx->diag, &v->mark, "bad value '%s' for 'host': "
		    "use upstream, client or a host name", v->text);
	} else {
		free(host);
		g->host_mode = CONFIG_HOST_FIXED;
		if ((g->host_name = strdup(v->text)) == NULL) {
			config_nomem(ctx, &v->mark);
		}
	}
}


/*
 * Routes.
 */

static void
config_route_clear(struct config_route *r)
{
	free(r->path);
	free(r->host);
	free(r->policies);
}


/* Appends a route and its references, keeping the two arrays in step. */
static int
config_push_route(struct config_ctx *ctx, const struct config_route *r,
    const struct config_route_ref *ref)
{
	struct config			*conf = ctx->conf;
	struct config_route		*routes;
	struct config_route_ref		*refs;

	refs = config_append(ctx->refs, conf->nroutes, sizeof(*refs));
	if (refs == NULL) {
		return -1;
	}
	ctx->refs = refs;
	routes = config_append(conf->routes, conf->nroutes, sizeof(*routes));
	if (routes == NULL) {
		return -1;
	}
	conf->routes = routes;
	refs[conf->nroutes] = *ref;
	routes[conf->nroutes++] = *r;
	return 0;
}


static void
config_add_route(struct config_ctx *ctx, const struct yamltree_node *item)
{
	struct config_route_draft	 d;

	if (item->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->diag, &item->mark, "each route must be a "
		    "mapping with 'path', not %s", yamltree_kind_name(item));
		return;
	}
	memset(&d, 0, sizeof(d));
	d.route.mark = item->mark;
	d.route.all_policies = true;
	d.route.preflight = CONFIG_PREFLIGHT_ANSWER;
	config_walk(ctx, item, config_route_keys, &d);
	if (yamltree_get(item, "path") == NULL) {
		diag_error(ctx->diag, &item->mark, "a route needs 'path'");
	}
	if (config_push_route(ctx, &d.route, &d.ref) == -1) {
		config_route_clear(&d.route);
		config_nomem(ctx, &item->mark);
	}
}


static void
config_set_routes(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 i;

	for (i = 0; i < v->nitems; i++) {
		config_add_route(ctx, v->items[i]);
	}
}


static void
config_set_path(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_route_draft	*d = target;
	const char			*s;

	if (v->text[0] != '/') {
		diag_error(ctx->diag, &v->mark, "route path '%s' must start "
		    "with '/'", v->text);
		return;
	}
	for (s = v->text; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '?' ||
		    *s == '#') {
			diag_error(ctx->diag, &v->mark, "route path '%s' must "
			    "not contain spaces, control characters, '?' or "
			    "'#'", v->text);
			return;
		}
	}
	if ((d->route.path = strdup(v->text)) == NULL) {
		config_nomem(ctx, &v->mark);
	}
}


static void
config_resolve_upstream(struct config_ctx *ctx, struct config_route *r,
    const struct config_route_ref *ref)
{
	const struct config	*conf = ctx->conf;
	struct config_near	 near;
	size_t			 i;

	if (ref->upstream == NULL) {
		if (config_find_group(conf, "default", &r->upstream) == NULL) {
			diag_error(ctx->diag, &r->mark, "this route needs "
			    "'upstream': there is no group named 'default'");
		}
		return;
	}
	if (config_find_group(conf, ref->upstream->text,
	    &r->upstream) != NULL) {
		return;
	}
	memset(&near, 0, sizeof(near));
	near.word = ref->upstream->text;
	for (i = 0; i < conf->nupstreams; i++) {
		config_near_try(&near, conf->upstreams[i].name);
	}
	config_unknown(ctx, &ref->upstream->mark, "upstream group", &near);
}


static int
config_policy_index(struct config_ctx *ctx, const struct yamltree_node *v,
    size_t *index)
{
	const struct policy_set	*set = &ctx->conf->policies;
	const struct policy	*p;
	struct config_near	 near;
	size_t			 i;

	if (v->kind != YAMLTREE_SCALAR) {
		diag_error(ctx->diag, &v->mark, "each item of 'policies' must "
		    "be a policy name, not %s", yamltree_kind_name(v));
		return -1;
	}
	if ((p = policy_set_find(set, v->text)) != NULL) {
		*index = (size_t)(p - set->policies);
		return 0;
	}
	memset(&near, 0, sizeof(near));
	near.word = v->text;
	for (i = 0; i < set->count; i++) {
		config_near_try(&near, set->policies[i].name);
	}
	config_unknown(ctx, &v->mark, "policy", &near);
	return -1;
}


static void
config_resolve_policies(struct config_ctx *ctx, struct config_route *r,
    const struct yamltree_node *v)
{
	const struct yamltree_node	*const *items = &v;
	size_t				 i, n = 1;

	if (v->kind == YAMLTREE_SEQUENCE) {
		items = (const struct yamltree_node *const *)v->items;
		n = v->nitems;
	}
	r->all_policies = false;
	if (n > 0 && (r->policies = calloc(n, sizeof(size_t))) == NULL) {
		config_nomem(ctx, &v->mark);
		return;
	}
	for (i = 0; i < n; i++) {
		if (config_policy_index(ctx, items[i],
		    &r->policies[r->npolicies]) == 0) {
			r->npolicies++;
		}
	}
}


/*
 * A route that an earlier one always takes first is a mistake worth a
 * warning: first match wins, so it can never be used.
 */
static void
config_check_shadowed(struct config_ctx *ctx, size_t j)
{
	const struct config_route	*a, *b = &ctx->conf->routes[j];
	size_t				 i;

	for (i = 0; i < j; i++) {
		a = &ctx->conf->routes[i];
		if (a->path == NULL || b->path == NULL ||
		    strncmp(b->path, a->path, strlen(a->path)) != 0) {
			continue;
		}
		if (a->host == NULL || (b->host != NULL &&
		    strcasecmp(a->host, b->host) == 0)) {
			diag_warning(ctx->diag, &b->mark, "route '%s' is never "
			    "used: the route '%s' at line %d comes first and "
			    "takes all its requests", b->path, a->path,
			    a->mark.line);
			return;
		}
	}
}


static void
config_resolve_routes(struct config_ctx *ctx)
{
	struct config_route	*r;
	size_t			 i;

	for (i = 0; i < ctx->conf->nroutes; i++) {
		r = &ctx->conf->routes[i];
		config_check_shadowed(ctx, i);
		if (ctx->conf->nupstreams > 0) {
			config_resolve_upstream(ctx, r, &ctx->refs[i]);
		}
		/* -o replaces every policy, so the names cannot hold. */
		if (ctx->refs[i].policies != NULL && !ctx->origins_override) {
			config_resolve_policies(ctx, r, ctx->refs[i].policies);
		}
	}
}


/* Requests no route takes still need a way: "/" to the default group
 * with every policy, unless the file already ends that way. */
static void
config_add_catchall(struct config_ctx *ctx)
{
	const struct config		*conf = ctx->conf;
	struct config_route		 r;
	struct config_route_ref		 ref;
	size_t				 i;

	for (i = 0; i < conf->nroutes; i++) {
		if (conf->routes[i].path != NULL && conf->routes[i].host ==
		    NULL && strcmp(conf->routes[i].path, "/") == 0) {
			return;
		}
	}
	memset(&r, 0, sizeof(r));
	memset(&ref, 0, sizeof(ref));
	r.mark.file = conf->file != NULL ? conf->file : CONFIG_DEFAULTS_FILE;
	r.all_policies = true;
	r.preflight = CONFIG_PREFLIGHT_ANSWER;
	if (config_find_group(conf, "default", &r.upstream) == NULL) {
		r.upstream = 0;
	}
	if ((r.path = strdup("/")) == NULL ||
	    config_push_route(ctx, &r, &ref) == -1) {
		config_route_clear(&r);
		config_nomem(ctx, &r.mark);
	}
}


/*
 * Policies: lists of tokens.
 */

static int
config_list_add(struct policy_list *list, const char *item)
{
	char	**items;

	items = reallocarray(list->items, list->count + 1, sizeof(*items));
	if (items == NULL) {
		return -1;
	}
	list->items = items;
	if ((items[list->count] = strdup(item)) == NULL) {
		return -1;
	}
	list->count++;
	return 0;
}


/* Precomputes the header value once: "*" or the items joined with
 * ", ", "" for an empty list, so it is never NULL. */
static int
config_list_join(struct policy_list *list)
{
	size_t	 i, len = 1;
	char	*p;

	if (list->any) {
		return (list->joined = strdup("*")) == NULL ? -1 : 0;
	}
	for (i = 0; i < list->count; i++) {
		len += strlen(list->items[i]) + 2;
	}
	if ((list->joined = malloc(len)) == NULL) {
		return -1;
	}
	p = list->joined;
	*p = '\0';
	for (i = 0; i < list->count; i++) {
		p = stpcpy(p, i > 0 ? ", " : "");
		p = stpcpy(p, list->items[i]);
	}
	return 0;
}


static void
config_add_token(struct config_ctx *ctx, const struct config_key *k,
    struct policy_list *list, const struct yamltree_node *v)
{
	if (v->kind != YAMLTREE_SCALAR) {
		diag_error(ctx->diag, &v->mark, "each item of '%s' must be "
		    "a %s, not %s", k->name, (const char *)k->arg,
		    yamltree_kind_name(v));
	} else if (strcmp(v->text, "*") == 0) {
		list->any = true;
	} else if (!config_is_token(v->text)) {
		diag_error(ctx->diag, &v->mark, "bad %s '%s' in '%s': write "
		    "one name per item, as in [GET, POST]",
		    (const char *)k->arg, v->text, k->name);
	} else if (config_list_add(list, v->text) == -1) {
		config_nomem(ctx, &v->mark);
	}
}


static void
config_set_tokens(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy_list	*list;
	size_t			 i;

	list = (struct policy_list *)((char *)target + k->offset);
	if (v->kind == YAMLTREE_SCALAR) {
		config_add_token(ctx, k, list, v);
	}
	for (i = 0; i < v->nitems; i++) {
		config_add_token(ctx, k, list, v->items[i]);
	}
	if (list->any && list->count > 0) {
		diag_error(ctx->diag, &v->mark, "'*' in '%s' means any %s, so "
		    "it must stand alone: write %s: '*'", k->name,
		    (const char *)k->arg, k->name);
	}
	if (config_list_join(list) == -1) {
		config_nomem(ctx, &v->mark);
	}
}


/* The lists a policy did not write take their defaults. */
static int
config_policy_defaults(struct policy *p, const struct yamltree_node *item)
{
	const char *const	*m;

	if (yamltree_get(item, "allow_methods") == NULL) {
		for (m = config_default_methods; *m != NULL; m++) {
			if (config_list_add(&p->allow_methods, *m) == -1) {
				return -1;
			}
		}
		if (config_list_join(&p->allow_methods) == -1) {
			return -1;
		}
	}
	if (yamltree_get(item, "allow_headers") == NULL) {
		p->allow_headers.any = true;
		if (config_list_join(&p->allow_headers) == -1) {
			return -1;
		}
	}
	if (yamltree_get(item, "expose_headers") == NULL &&
	    config_list_join(&p->expose_headers) == -1) {
		return -1;
	}
	return 0;
}


/*
 * Policies: names, origins and the checks that need a whole policy.
 */

static void
config_set_name(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy	*p = target;

	if (!config_is_name(v->text)) {
		diag_error(ctx->diag, &v->mark, "bad policy name '%s': use "
		    "letters, digits, '-', '_' and '.'", v->text);
	} else if ((p->name = strdup(v->text)) == NULL) {
		config_nomem(ctx, &v->mark);
	}
}


static void
config_set_max_age(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy	*p = target;

	if (config_number(v, CONFIG_NUMBER_MAX, &p->max_age) == -1) {
		config_bad_number(ctx, k, v);
	}
}


static int
config_add_regex(struct config_ctx *ctx, const struct yamltree_node *item,
    struct origin_pattern *o)
{
	struct config_regex_draft	 d;
	char				 errbuf[CONFIG_ERRLEN];

	memset(&d, 0, sizeof(d));
	config_walk(ctx, item, config_regex_keys, &d);
	if (d.regex == NULL) {
		if (yamltree_get(item, "regex") == NULL) {
			diag_error(ctx->diag, &item->mark, "an origin mapping "
			    "needs 'regex'");
		}
		return -1;
	}
	if (origin_pattern_regex(o, d.regex->text, errbuf,
	    sizeof(errbuf)) == -1) {
		diag_error(ctx->diag, &d.regex->mark, "bad %s", errbuf);
		return -1;
	}
	return 0;
}


static int
config_add_origin(struct config_ctx *ctx, const struct yamltree_node *item,
    struct origin_pattern *o)
{
	char	 errbuf[CONFIG_ERRLEN];
	int	 rc = -1;

	o->mark = item->mark;
	if (item->kind == YAMLTREE_MAPPING) {
		rc = config_add_regex(ctx, item, o);
	} else if (item->kind == YAMLTREE_SEQUENCE) {
		diag_error(ctx->diag, &item->mark, "each origin must be a "
		    "string or a mapping with 'regex', not a list");
	} else if ((rc = origin_pattern_parse(o, item->text, errbuf,
	    sizeof(errbuf))) == -1) {
		diag_error(ctx->diag, &item->mark, "%s", errbuf);
	}
	if (rc == -1) {
		origin_pattern_clear(o);
	}
	return rc;
}


static void
config_set_origins(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy	*p = target;
	size_t		 i;

	if (v->nitems == 0) {
		diag_error(ctx->diag, &v->mark, "'origins' must not be empty");
		return;
	}
	if ((p->origins = calloc(v->nitems, sizeof(*p->origins))) == NULL) {
		config_nomem(ctx, &v->mark);
		return;
	}
	for (i = 0; i < v->nitems; i++) {
		if (config_add_origin(ctx, v->items[i],
		    &p->origins[p->norigins]) == 0) {
			p->norigins++;
		}
	}
}


static bool
config_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 ||
	    strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
}


/* What each origin means together with the policy's credentials. */
static void
config_check_origin(struct config_ctx *ctx, const struct policy *p,
    const struct origin_pattern *o)
{
	if (o->kind == ORIGIN_ANY && p->allow_credentials) {
		diag_error(ctx->diag, &o->mark, "origin '*' cannot be used "
		    "with credentials: browsers refuse 'Access-Control-Allow-"
		    "Origin: *' on credentialed requests, and reflecting "
		    "every origin instead would let any site read your "
		    "users' data; list the origins, or use a pattern such "
		    "as https://*.example.com");
	} else if (o->kind == ORIGIN_NULL) {
		diag_warning(ctx->diag, &o->mark, "origin 'null' is allowed: "
		    "sandboxed iframes, local files and redirected requests "
		    "all send it, so any site can obtain it");
	}
	if (!p->allow_credentials || o->scheme == NULL) {
		return;
	}
	if (o->kind == ORIGIN_SUBDOMAIN) {
		diag_warning(ctx->diag, &o->mark, "'%s' with credentials "
		    "trusts every subdomain, present and future: a hijacked "
		    "subdomain could read your users' data", o->text);
	}
	if (strcmp(o->scheme, "http") == 0 && !config_is_loopback(o->host)) {
		diag_warning(ctx->diag, &o->mark, "'%s' is plain http with "
		    "credentials: anyone on the network path can inject "
		    "script into it and read your users' data; use https",
		    o->text);
	}
}


static void
config_check_max_age(struct config_ctx *ctx, const struct policy *p,
    const struct yamltree_node *item)
{
	const struct yamltree_node	*v = yamltree_get(item, "max_age");

	if (v == NULL || p->max_age <= 7200) {
		return;
	}
	if (p->max_age > 86400) {
		diag_warning(ctx->diag, &v->mark, "max_age %ld is longer than "
		    "any browser keeps a preflight: Firefox caps it at 86400 "
		    "seconds and Chromium at 7200", p->max_age);
	} else {
		diag_warning(ctx->diag, &v->mark, "max_age %ld is longer than "
		    "Chromium keeps a preflight: it caps it at 7200 seconds",
		    p->max_age);
	}
}


static void
config_check_policy(struct config_ctx *ctx, const struct policy_set *set,
    const struct policy *p, const struct yamltree_node *item)
{
	const struct yamltree_node	*name = yamltree_get(item, "name");
	const struct policy		*first;
	size_t				 i;

	if (name == NULL) {
		diag_error(ctx->diag, &item->mark, "a policy needs 'name'");
	} else if (p->name != NULL && (first = policy_set_find(set,
	    p->name)) != p) {
		diag_error(ctx->diag, &name->mark, "duplicate policy name "
		    "'%s'; the first is at line %d", p->name, first->mark.line);
	}
	if (yamltree_get(item, "origins") == NULL && p->name != NULL) {
		diag_error(ctx->diag, &item->mark, "policy '%s' needs "
		    "'origins'", p->name);
	} else if (yamltree_get(item, "origins") == NULL) {
		diag_error(ctx->diag, &item->mark, "a policy needs 'origins'");
	}
	for (i = 0; i < p->norigins; i++) {
		config_check_origin(ctx, p, &p->origins[i]);
	}
	config_check_max_age(ctx, p, item);
}


/*
 * Policy sets: a file, an inline block, or the built-in ones.
 */

static struct policy *
config_new_policy(struct config_ctx *ctx, struct policy_set *set,
    const struct diag_mark *mark)
{
	struct policy	*policies, *p;

	policies = config_append(set->policies, set->count,
	    sizeof(*policies));
	if (policies == NULL) {
		config_nomem(ctx, mark);
		return NULL;
	}
	set->policies = policies;
	p = &policies[set->count++];
	p->mark = *mark;
	p->max_age = -1;
	p->on_denied = POLICY_DENIED_FORWARD;
	return p;
}


static void
config_add_policy(struct config_ctx *ctx, struct policy_set *set,
    const struct yamltree_node *item)
{
	struct policy	*p;

	if (item->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->diag, &item->mark, "each policy must be a "
		    "mapping with 'name' and 'origins', not %s",
		    yamltree_kind_name(item));
		return;
	}
	if ((p = config_new_policy(ctx, set, &item->mark)) == NULL) {
		return;
	}
	config_walk(ctx, item, config_policy_keys, p);
	if (config_policy_defaults(p, item) == -1) {
		config_nomem(ctx, &item->mark);
	}
	config_check_policy(ctx, set, p, item);
}


static void
config_set_policy_list(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 i;

	for (i = 0; i < v->nitems; i++) {
		config_add_policy(ctx, target, v->items[i]);
	}
}


/* A mapping with "mode" and "policies", in a file or inline. */
static void
config_read_policy_block(struct config_ctx *ctx, struct policy_set *set,
    const struct yamltree_node *v)
{
	if (v->kind == YAMLTREE_SEQUENCE) {
		config_set_policy_list(ctx, NULL, v, set);
		return;
	}
	if (v->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->diag, &v->mark, "policies must be a mapping "
		    "with a 'policies' list, not %s", yamltree_kind_name(v));
		return;
	}
	config_walk(ctx, v, config_policy_file_keys, set);
	if (yamltree_get(v, "policies") == NULL) {
		diag_error(ctx->diag, &v->mark, "a policy set needs a "
		    "'policies' list");
	}
}


/*
 * Replaces the policies with those of path, which the set takes over:
 * every mark in them points at set->file.  from is where the file was
 * named, or NULL for the command line.
 */
static void
config_read_policy_file(struct config_ctx *ctx, char *path,
    const struct diag_mark *from)
{
	struct policy_set	*set = &ctx->conf->policies;
	struct yamltree_node	*root;
	struct diag_mark	 top;

	policy_set_clear(set);
	set->file = path;
	if (yamltree_load(set->file, from, &root, ctx->diag) == -1) {
		return;
	}
	if (root == NULL) {
		top.file = set->file;
		top.line = 1;
		top.column = 1;
		diag_error(ctx->diag, &top, "the policy file is empty; it "
		    "needs a 'policies' list");
		return;
	}
	config_read_policy_block(ctx, set, root);
	yamltree_free(root);
}


static void
config_set_policies(struct config_ctx *ctx, const struct config_key *k,
    const struct yamltree_node *v, void *target)
{
	ctx->policies = v;
}


/* The config's own "policies", once the whole file has been read. */
static void
config_load_policies(struct config_ctx *ctx)
{
	const struct yamltree_node	*v = ctx->policies;
	char				*path;

	if (v == NULL) {
		return;
	}
	if (v->kind != YAMLTREE_SCALAR) {
		config_read_policy_block(ctx, &ctx->conf->policies, v);
		return;
	}
	if (v->text[0] == '/') {
		path = strdup(v->text);
	} else if (asprintf(&path, "%s%s", ctx->dir, v->text) == -1) {
		path = NULL;
	}
	if (path == NULL) {
		config_nomem(ctx, &v->mark);
		return;
	}
	config_read_policy_file(ctx, path, &v->mark);
}


/*
 * The development policy: any method, any header, credentials and
 * private-network access, for the given origins.  A bad origin is
 * reported at mark, which names the flag or the defaults.
 */
static void
config_dev_policy(struct config_ctx *ctx, const char *name,
    const char *const *origins, size_t n, const struct diag_mark *mark)
{
	struct policy	*p;
	char		 errbuf[CONFIG_ERRLEN];
	size_t		 i;

	p = config_new_policy(ctx, &ctx->conf->policies, mark);
	if (p == NULL) {
		return;
	}
	p->allow_methods.any = p->allow_headers.any = true;
	p->allow_credentials = p->allow_private_network = true;
	if ((p->name = strdup(name)) == NULL ||
	    (n > 0 && (p->origins = calloc(n, sizeof(*p->origins))) == NULL) ||
	    config_list_join(&p->allow_methods) == -1 ||
	    config_list_join(&p->allow_headers) == -1 ||
	    config_list_join(&p->expose_headers) == -1) {
		config_nomem(ctx, mark);
		return;
	}
	for (i = 0; i < n; i++) {
		p->origins[p->norigins].mark = *mark;
		if (origin_pattern_parse(&p->origins[p->norigins], origins[i],
		    errbuf, sizeof(errbuf)) == -1) {
			diag_error(ctx->diag, mark, "%s", errbuf);
			continue;
		}
		config_check_origin(ctx, p, &p->origins[p->norigins++]);
	}
}


/*
 * Command-line overrides.  A flag has no line and column, so its
 * errors are reported against the flag's name.
 */

static void
config_override_listens(struct config_ctx *ctx, const char **listens,
    size_t n)
{
	static const struct diag_mark	 flag = { "-l", 0, 0 };
	struct config			*conf = ctx->conf;
	struct config_listen		*l;
	size_t				 i;

	for (i = 0; i < conf->nlistens; i++) {
		free(conf->listens[i].host);
		free(conf->listens[i].cert);
		free(conf->listens[i].key);
	}
	conf->nlistens = 0;
	for (i = 0; i < n; i++) {
		if ((l = config_new_listen(ctx, &flag)) == NULL) {
			return;
		}
		if (config_parse_hostport(listens[i], &l->host,
		    &l->port) == -1) {
			diag_error(ctx->diag, &flag, "bad address '%s': use "
			    "HOST:PORT, or [IPv6]:PORT", listens[i]);
		}
	}
}


static void
config_override_upstreams(struct config_ctx *ctx, const char **urls,
    size_t n)
{
	static const struct diag_mark	 flag = { "-u", 0, 0 };
	struct config_upstream		*g;
	size_t				 i;

	g = config_find_group(ctx->conf, "default", NULL);
	if (g == NULL && (g = config_add_group(ctx, "default",
	    &flag)) == NULL) {
		return;
	}
	for (i = 0; i < g->nservers; i++) {
		config_server_clear(&g->servers[i]);
	}
	g->nservers = 0;
	for (i = 0; i < n; i++) {
		config_add_server(ctx, g, urls[i], &flag);
	}
}


static void
config_override_origins(struct config_ctx *ctx, const char **origins,
    size_t n)
{
	static const struct diag_mark	 flag = { "-o", 0, 0 };

	policy_set_clear(&ctx->conf->policies);
	config_dev_policy(ctx, "command-line", origins, n, &flag);
	ctx->origins_override = true;
}


static void
config_apply_overrides(struct config_ctx *ctx,
    const struct config_overrides *ov)
{
	char	*path;

	if (ov == NULL) {
		return;
	}
	if (ov->policies_file != NULL) {
		if ((path = strdup(ov->policies_file)) == NULL) {
			config_nomem(ctx, NULL);
		} else {
			config_read_policy_file(ctx, path, NULL);
		}
	}
	if (ov->norigins > 0) {
		config_override_origins(ctx, ov->origins, ov->norigins);
	}
	if (ov->nlistens > 0) {
		config_override_listens(ctx, ov->listens, ov->nlistens);
	}
	if (ov->nupstreams > 0) {
		config_override_upstreams(ctx, ov->upstreams, ov->nupstreams);
	}
	if (ov->workers > 0) {
		ctx->conf->workers = ov->workers;
	}
}


/*
 * Loading.
 */

static struct config *
config_new(void)
{
	struct config	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL) {
		return NULL;
	}
	conf->workers = 0;
	conf->limits.header_bytes = 32 * 1024;
	conf->limits.header_count = 100;
	conf->limits.body_bytes = 10 * 1024 * 1024;
	conf->limits.connections = 10000;
	conf->timeouts.client_header = 10 * 1000;
	conf->timeouts.client_idle = 60 * 1000;
	conf->timeouts.upstream_connect = 5 * 1000;
	conf->timeouts.upstream_read = 60 * 1000;
	conf->timeouts.shutdown = 10 * 1000;
	conf->log.level = CONFIG_LOG_INFO;
	conf->log.format = CONFIG_LOG_TEXT;
	conf->policies.mode = POLICY_ENFORCE;
	return conf;
}


/* What "corsproxy" with no file means: see config.h. */
static void
config_dev_defaults(struct config_ctx *ctx)
{
	static const struct diag_mark	 defaults = {
		CONFIG_DEFAULTS_FILE, 0, 0
	};
	struct config_upstream		*g;

	g = config_add_group(ctx, "default", &defaults);
	if (g != NULL) {
		config_add_server(ctx, g, CONFIG_DEFAULT_UPSTREAM, &defaults);
	}
	config_dev_policy(ctx, "development", config_dev_origins,
	    sizeof(config_dev_origins) / sizeof(config_dev_origins[0]) - 1,
	    &defaults);
}


/* Keeps the directory of file, with its '/', for relative paths. */
static int
config_set_dir(struct config_ctx *ctx, const char *file)
{
	const char	*slash = strrchr(file, '/');
	size_t		 len = slash != NULL ? (size_t)(slash - file) + 1 : 0;

	ctx->dir = strndup(file, len);
	return ctx->dir == NULL ? -1 : 0;
}


/*
 * Reads and walks the file.  Returns -1 when it is not readable YAML
 * or not a mapping, when nothing further can be checked.
 */
static int
config_read_file(struct config_ctx *ctx, const char *file,
    const struct config_overrides *ov)
{
	struct config		*conf = ctx->conf;
	struct diag_mark	 top = { NULL, 1, 1 };

	if ((conf->file = strdup(file)) == NULL ||
	    config_set_dir(ctx, file) == -1) {
		config_nomem(ctx, NULL);
		return -1;
	}
	top.file = conf->file;
	if (yamltree_load(conf->file, NULL, &ctx->root, ctx->diag) == -1) {
		return -1;
	}
	if (ctx->root != NULL && ctx->root->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->diag, &ctx->root->mark, "the configuration "
		    "must be a mapping of keys such as 'listen' and "
		    "'upstream', not %s", yamltree_kind_name(ctx->root));
		return -1;
	}

	if (ctx->root != NULL) {
		config_walk(ctx, ctx->root, config_keys, conf);
	}
	if (ov == NULL || ov->policies_file == NULL) {
		config_load_policies(ctx);
	}
	if (yamltree_get(ctx->root, "upstream") == NULL &&
	    yamltree_get(ctx->root, "upstreams") == NULL &&
	    (ov == NULL || ov->nupstreams == 0)) {
		diag_error(ctx->diag, &top, "no upstream: add 'upstream: "
		    "http://HOST:PORT', or 'upstreams' with named groups");
	}
	return 0;
}


/* Fills what neither the file nor the flags gave, and ties the routes
 * to the groups and policies as they finally are. */
static void
config_finish(struct config_ctx *ctx)
{
	struct config		*conf = ctx->conf;
	struct config_listen	*l;
	struct diag_mark	 mark = { CONFIG_DEFAULTS_FILE, 0, 0 };

	if (conf->nlistens == 0 &&
	    (l = config_new_listen(ctx, &mark)) != NULL &&
	    config_parse_hostport(CONFIG_DEFAULT_LISTEN, &l->host,
	    &l->port) == -1) {
		config_nomem(ctx, &mark);
	}
	if (conf->log.access == NULL &&
	    (conf->log.access = strdup("stderr")) == NULL) {
		config_nomem(ctx, &mark);
	}
	config_resolve_routes(ctx);
	if (conf->nupstreams > 0) {
		config_add_catchall(ctx);
	}
}


struct config *
config_load(const char *file, const struct config_overrides *ov,
    struct diag *diag)
{
	struct config_ctx	 ctx;
	size_t			 errors = diag->errors;
	int			 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.diag = diag;
	if ((ctx.conf = config_new()) == NULL) {
		config_nomem(&ctx, NULL);
		return NULL;
	}
	if (file == NULL) {
		config_dev_defaults(&ctx);
		rc = 0;
	} else {
		rc = config_read_file(&ctx, file, ov);
	}
	if (rc == 0) {
		config_apply_overrides(&ctx, ov);
		config_finish(&ctx);
	}

	yamltree_free(ctx.root);
	free(ctx.refs);
	free(ctx.dir);
	if (diag->errors > errors) {
		config_free(ctx.conf);
		return NULL;
	}
	return ctx.conf;
}


void
config_free(struct config *conf)
{
	size_t	 i;

	if (conf == NULL) {
		return;
	}
	for (i = 0; i < conf->nlistens; i++) {
		free(conf->listens[i].host);
		free(conf->listens[i].cert);
		free(conf->listens[i].key);
	}
	for (i = 0; i < conf->nupstreams; i++) {
		config_upstream_clear(&conf->upstreams[i]);
	}
	for (i = 0; i < conf->nroutes; i++) {
		config_route_clear(&conf->routes[i]);
	}
	free(conf->listens);
	free(conf->upstreams);
	free(conf->routes);
	policy_set_clear(&conf->policies);
	free(conf->log.access);
	free(conf->admin);
	free(conf->file);
	free(conf);
}


static const char *
config_plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}


void
config_summary(const struct config *conf, char *buf, size_t len)
{
	const struct policy_set	*set = &conf->policies;
	size_t			 i, nservers = 0;

	for (i = 0; i < conf->nupstreams; i++) {
		nservers += conf->upstreams[i].nservers;
	}
	snprintf(buf, len, "config %s: %zu %s, %zu %s (%zu %s), %zu %s, "
	    "%zu %s (%s)%s%s",
	    conf->file != NULL ? conf->file : CONFIG_DEFAULTS_FILE,
	    conf->nlistens, config_plural(conf->nlistens, "listener",
	    "listeners"),
	    conf->nupstreams, config_plural(conf->nupstreams,
	    "upstream group", "upstream groups"),
	    nservers, config_plural(nservers, "server", "servers"),
	    conf->nroutes, config_plural(conf->nroutes, "route", "routes"),
	    set->count, config_plural(set->count, "policy", "policies"),
	    set->mode == POLICY_REPORT ? "report" : "enforce",
	    set->file != NULL ? " from " : "",
	    set->file != NULL ? set->file : "");
}


/*
 * Routes at request time.
 */

const struct config_route *
config_route_match(const struct config *conf, const char *target,
    const char *host)
{
	size_t	 i, hostlen = 0;

	if (host != NULL) {
		const char	*colon = strrchr(host, ':');

		/* "[::1]:8080" keeps its brackets; only a port goes. */
		hostlen = (colon != NULL && strchr(colon, ']') == NULL) ?
		    (size_t)(colon - host) : strlen(host);
	}
	for (i = 0; i < conf->nroutes; i++) {
		const struct config_route	*r = &conf->routes[i];

		if (r->host != NULL && (host == NULL ||
		    strlen(r->host) != hostlen ||
		    strncasecmp(r->host, host, hostlen) != 0)) {
			continue;
		}
		if (strncmp(target, r->path, strlen(r->path)) == 0) {
			return r;
		}
	}
	return &conf->routes[conf->nroutes - 1];
}
