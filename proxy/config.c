/*
 * The proxy configuration: proxy.yaml, the development defaults and
 * the command-line overrides, into one struct config.
 *
 * The file is walked against the key tables below (schema.c does the
 * walking); its policies are read by policyfile.c and its values
 * parsed by confvalue.c.  Nothing stops at the first mistake, so one
 * run of --check shows every problem in the file.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "confvalue.h"
#include "policyfile.h"
#include "schema.h"
#include "yamltree.h"

/* The "file" of whatever no file defined. */
#define CONFIG_DEFAULTS_FILE	"(defaults)"

#define CONFIG_WORKERS_MAX	1024

/* The names a route refers to, kept as nodes until all are known. */
struct config_route_ref {
	const struct yamltree_node	*upstream;
	const struct yamltree_node	*policies;
};

struct config_route_draft {
	struct config_route		 route;
	struct config_route_ref		 ref;
};

struct config_ctx {
	struct schema_ctx		 schema; /* its owner: this ctx */
	struct config			*conf;
	char				*dir;	/* the config file's, with
						 * its '/', or "" */
	struct yamltree_node		*root;	/* the config file's tree */
	const struct yamltree_node	*policies; /* its "policies" value */
	struct config_route_ref		*refs;	/* one per conf->routes */
	bool				 origins_override; /* -o given */
};

static schema_setter	config_set_listen, config_set_address;
static schema_setter	config_set_workers, config_set_admin;
static schema_setter	config_set_upstream, config_set_upstreams;
static schema_setter	config_set_servers, config_set_host_mode;
static schema_setter	config_set_routes, config_set_path;
static schema_setter	config_set_policies;

static const char *const config_log_levels[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const config_log_formats[] = { "text", "json", NULL };
static const char *const config_preflights[] = { "answer", "forward", NULL };

_Static_assert(sizeof(enum config_log_level) == sizeof(int) &&
    sizeof(enum config_log_format) == sizeof(int) &&
    sizeof(enum config_preflight) == sizeof(int), "enums are stored as int");

static const struct schema_key config_limits_keys[] = {
	{ "header_bytes", SCHEMA_T_SCALAR, "a size such as 32KiB",
	    schema_set_size, offsetof(struct config_limits, header_bytes),
	    NULL },
	{ "header_count", SCHEMA_T_SCALAR, "a number",
	    schema_set_count, offsetof(struct config_limits, header_count),
	    NULL },
	{ "body_bytes", SCHEMA_T_SCALAR, "a size such as 10MiB",
	    schema_set_size, offsetof(struct config_limits, body_bytes),
	    NULL },
	{ "connections", SCHEMA_T_SCALAR, "a number",
	    schema_set_count, offsetof(struct config_limits, connections),
	    NULL },
	SCHEMA_END
};

#define CONFIG_TIMEOUT(name) \
	{ #name, SCHEMA_T_SCALAR, "a duration such as 10s", \
	    schema_set_duration, offsetof(struct config_timeouts, name), NULL }

static const struct schema_key config_timeouts_keys[] = {
	CONFIG_TIMEOUT(client_header),
	CONFIG_TIMEOUT(client_idle),
	CONFIG_TIMEOUT(upstream_connect),
	CONFIG_TIMEOUT(upstream_read),
	CONFIG_TIMEOUT(shutdown),
	SCHEMA_END
};

static const struct schema_key config_log_keys[] = {
	{ "level", SCHEMA_T_SCALAR, "error, warn, info or debug",
	    schema_set_enum, offsetof(struct config_log, level),
	    config_log_levels },
	{ "access", SCHEMA_T_SCALAR, "stderr, off or a file path",
	    schema_set_string, offsetof(struct config_log, access), NULL },
	{ "format", SCHEMA_T_SCALAR, "text or json",
	    schema_set_enum, offsetof(struct config_log, format),
	    config_log_formats },
	SCHEMA_END
};

static const struct schema_key config_listen_keys[] = {
	{ "address", SCHEMA_T_SCALAR, "\"host:port\"",
	    config_set_address, 0, NULL },
	{ "cert", SCHEMA_T_SCALAR, "a file path",
	    schema_set_string, offsetof(struct config_listen, cert), NULL },
	{ "key", SCHEMA_T_SCALAR, "a file path",
	    schema_set_string, offsetof(struct config_listen, key), NULL },
	SCHEMA_END
};

static const struct schema_key config_group_keys[] = {
	{ "servers", SCHEMA_T_SCALAR | SCHEMA_T_LIST,
	    "a URL or a list of URLs", config_set_servers, 0, NULL },
	{ "host", SCHEMA_T_SCALAR, "upstream, client or a host name",
	    config_set_host_mode, 0, NULL },
	{ "ca_file", SCHEMA_T_SCALAR, "a file path",
	    schema_set_string, offsetof(struct config_upstream, ca_file),
	    NULL },
	SCHEMA_END
};

static const struct schema_key config_route_keys[] = {
	{ "path", SCHEMA_T_SCALAR, "a path starting with /",
	    config_set_path, 0, NULL },
	{ "host", SCHEMA_T_SCALAR, "a host name",
	    schema_set_string,
	    offsetof(struct config_route_draft, route.host), NULL },
	{ "upstream", SCHEMA_T_SCALAR, "the name of an upstream group",
	    schema_set_node,
	    offsetof(struct config_route_draft, ref.upstream), NULL },
	{ "policies", SCHEMA_T_SCALAR | SCHEMA_T_LIST,
	    "a list of policy names", schema_set_node,
	    offsetof(struct config_route_draft, ref.policies), NULL },
	{ "preflight", SCHEMA_T_SCALAR, "answer or forward",
	    schema_set_enum,
	    offsetof(struct config_route_draft, route.preflight),
	    config_preflights },
	SCHEMA_END
};

static const struct schema_key config_keys[] = {
	{ "listen", SCHEMA_T_SCALAR | SCHEMA_T_LIST | SCHEMA_T_MAP,
	    "\"host:port\" or a list of them", config_set_listen, 0, NULL },
	{ "workers", SCHEMA_T_SCALAR, "a number or 'auto'",
	    config_set_workers, 0, NULL },
	{ "upstream", SCHEMA_T_SCALAR, "a URL such as http://127.0.0.1:3000",
	    config_set_upstream, 0, NULL },
	{ "upstreams", SCHEMA_T_MAP, "a mapping of group names to groups",
	    config_set_upstreams, 0, NULL },
	{ "routes", SCHEMA_T_LIST, "a list of routes",
	    config_set_routes, 0, NULL },
	{ "policies", SCHEMA_T_SCALAR | SCHEMA_T_LIST | SCHEMA_T_MAP,
	    "a policy file, a list of policies or a mapping with 'policies'",
	    config_set_policies, 0, NULL },
	{ "limits", SCHEMA_T_MAP, "a mapping", schema_set_section,
	    offsetof(struct config, limits), config_limits_keys },
	{ "timeouts", SCHEMA_T_MAP, "a mapping", schema_set_section,
	    offsetof(struct config, timeouts), config_timeouts_keys },
	{ "log", SCHEMA_T_MAP, "a mapping", schema_set_section,
	    offsetof(struct config, log), config_log_keys },
	{ "admin", SCHEMA_T_SCALAR, "\"host:port\"",
	    config_set_admin, 0, NULL },
	SCHEMA_END
};

/* The origins of the development defaults. */
static const char *const config_dev_origins[] = {
	"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*", NULL
};


/*
 * Listeners, workers and the admin address.
 */

/* Reads "host:port"; port 0 asks the kernel for a free port, which
 * the start-up line then reports (the tests listen that way). */
static int
config_address(struct config_ctx *ctx, const struct yamltree_node *v,
    const char *what, char **host, int *port)
{
	if (confvalue_parse_hostport(v->text, host, port) == -1) {
		diag_error(ctx->schema.diag, &v->mark, "bad address '%s' for "
		    "'%s': use HOST:PORT, or [IPv6]:PORT", v->text, what);
		return -1;
	}
	return 0;
}


static struct config_listen *
config_new_listen(struct config_ctx *ctx, const struct diag_mark *mark)
{
	struct config		*conf = ctx->conf;
	struct config_listen	*listens;

	listens = schema_append(conf->listens, conf->nlistens,
	    sizeof(*listens));
	if (listens == NULL) {
		schema_nomem(&ctx->schema, mark);
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
		diag_error(ctx->schema.diag, &item->mark, "a 'listen' mapping "
		    "needs 'address'");
	}
	if (cert != NULL && key == NULL) {
		diag_error(ctx->schema.diag, &cert->mark, "'cert' needs 'key' "
		    "too: TLS takes a certificate and its private key");
	}
	if (key != NULL && cert == NULL) {
		diag_error(ctx->schema.diag, &key->mark, "'key' needs 'cert' "
		    "too: TLS takes a certificate and its private key");
	}
}


static void
config_add_listen(struct config_ctx *ctx, const struct yamltree_node *item)
{
	struct config_listen	*l;

	if (item->kind == YAMLTREE_SEQUENCE) {
		diag_error(ctx->schema.diag, &item->mark, "each 'listen' item "
		    "must be \"host:port\" or a mapping with 'address', not a "
		    "list");
		return;
	}
	if ((l = config_new_listen(ctx, &item->mark)) == NULL) {
		return;
	}
	if (item->kind == YAMLTREE_SCALAR) {
		config_address(ctx, item, "listen", &l->host, &l->port);
		return;
	}
	schema_walk(&ctx->schema, item, config_listen_keys, l);
	config_check_listen(ctx, item);
}


static void
config_set_listen(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	size_t			 i;

	(void)k;
	(void)target;

	if (v->kind != YAMLTREE_SEQUENCE) {
		config_add_listen(ctx, v);
		return;
	}
	if (v->nitems == 0) {
		diag_error(ctx->schema.diag, &v->mark, "'listen' must not be "
		    "empty");
	}
	for (i = 0; i < v->nitems; i++) {
		config_add_listen(ctx, v->items[i]);
	}
}


static void
config_set_address(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	struct config_listen	*l = target;

	config_address(ctx, v, k->name, &l->host, &l->port);
}


static void
config_set_admin(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	char			*host;
	int			 port;

	(void)target;

	if (config_address(ctx, v, k->name, &host, &port) == -1) {
		return;
	}
	free(host);
	if ((ctx->conf->admin = strdup(v->text)) == NULL) {
		schema_nomem(&ctx->schema, &v->mark);
	}
}


static void
config_set_workers(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	long			 n;

	(void)target;

	if (strcmp(v->text, "auto") == 0) {
		ctx->conf->workers = 0;
	} else if (schema_number(v, &n) == -1) {
		schema_bad_number(&ctx->schema, k, v);
	} else if (n < 1 || n > CONFIG_WORKERS_MAX) {
		diag_error(ctx->schema.diag, &v->mark, "'workers' must be 1 to "
		    "%d, or 'auto' for one per CPU", CONFIG_WORKERS_MAX);
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
		confvalue_server_clear(&g->servers[i]);
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
		diag_error(ctx->schema.diag, mark, "upstream group '%s' is "
		    "already defined at line %d", name, g->mark.line);
		return NULL;
	}
	groups = schema_append(conf->upstreams, conf->nupstreams,
	    sizeof(*groups));
	if (groups == NULL) {
		schema_nomem(&ctx->schema, mark);
		return NULL;
	}
	conf->upstreams = groups;
	g = &groups[conf->nupstreams++];
	g->mark = *mark;
	g->host_mode = CONFIG_HOST_UPSTREAM;
	if ((g->name = strdup(name)) == NULL) {
		schema_nomem(&ctx->schema, mark);
	}
	return g;
}


static void
config_add_server(struct config_ctx *ctx, struct config_upstream *g,
    const char *url, const struct diag_mark *mark)
{
	struct config_server	 srv, *servers;
	char			 errbuf[CONFVALUE_ERRLEN];

	if (confvalue_parse_server(url, &srv, errbuf, sizeof(errbuf)) == -1) {
		diag_error(ctx->schema.diag, mark, "bad upstream URL '%s': %s",
		    url, errbuf);
		return;
	}
	srv.mark = *mark;
	servers = schema_append(g->servers, g->nservers, sizeof(*servers));
	if (servers == NULL) {
		confvalue_server_clear(&srv);
		schema_nomem(&ctx->schema, mark);
		return;
	}
	g->servers = servers;
	g->servers[g->nservers++] = srv;
}


/* "upstream: URL" is the group "default" with one server. */
static void
config_set_upstream(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	struct config_upstream	*g;

	(void)k;
	(void)target;

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
		diag_error(ctx->schema.diag, &v->mark, "upstream group '%s' "
		    "must be a mapping with 'servers', not %s", key->text,
		    yamltree_kind_name(v));
		return;
	}
	if (!confvalue_is_name(key->text)) {
		diag_error(ctx->schema.diag, &key->mark, "bad upstream group "
		    "name '%s': use letters, digits, '-', '_' and '.'",
		    key->text);
		return;
	}
	if ((g = config_add_group(ctx, key->text, &key->mark)) == NULL) {
		return;
	}
	schema_walk(&ctx->schema, v, config_group_keys, g);
	if (yamltree_get(v, "servers") == NULL) {
		diag_error(ctx->schema.diag, &key->mark, "upstream group '%s' "
		    "needs 'servers'", key->text);
	}
}


static void
config_set_upstreams(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	size_t			 i;

	(void)k;
	(void)target;

	if (v->npairs == 0) {
		diag_error(ctx->schema.diag, &v->mark, "'upstreams' must not "
		    "be empty");
	}
	for (i = 0; i < v->npairs; i++) {
		config_add_upstreams_group(ctx, &v->pairs[i]);
	}
}


static void
config_set_servers(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx		*ctx = sc->owner;
	struct config_upstream		*g = target;
	const struct yamltree_node	*item;
	size_t				 i;

	(void)k;

	if (v->kind == YAMLTREE_SCALAR) {
		config_add_server(ctx, g, v->text, &v->mark);
		return;
	}
	if (v->nitems == 0) {
		diag_error(ctx->schema.diag, &v->mark, "'servers' must not be "
		    "empty");
	}
	for (i = 0; i < v->nitems; i++) {
		item = v->items[i];
		if (item->kind != YAMLTREE_SCALAR) {
			diag_error(ctx->schema.diag, &item->mark, "each server "
			    "must be a URL, not %s", yamltree_kind_name(item));
		} else {
			config_add_server(ctx, g, item->text, &item->mark);
		}
	}
}


/* The Host header sent upstream; a literal name goes into a header, so
 * it gets the same strict check as a host in a URL. */
static void
config_set_host_mode(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	struct config_upstream	*g = target;
	char			*host;
	int			 port;

	(void)k;

	if (strcmp(v->text, "upstream") == 0) {
		g->host_mode = CONFIG_HOST_UPSTREAM;
	} else if (strcmp(v->text, "client") == 0) {
		g->host_mode = CONFIG_HOST_CLIENT;
	} else if (confvalue_split_host(v->text, strlen(v->text), &host,
	    &port) == -1) {
		diag_error(ctx->schema.diag, &v->mark, "bad value '%s' for "
		    "'host': use upstream, client or a host name", v->text);
	} else {
		free(host);
		g->host_mode = CONFIG_HOST_FIXED;
		if ((g->host_name = strdup(v->text)) == NULL) {
			schema_nomem(&ctx->schema, &v->mark);
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

	refs = schema_append(ctx->refs, conf->nroutes, sizeof(*refs));
	if (refs == NULL) {
		return -1;
	}
	ctx->refs = refs;
	routes = schema_append(conf->routes, conf->nroutes, sizeof(*routes));
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
		diag_error(ctx->schema.diag, &item->mark, "each route must be "
		    "a mapping with 'path', not %s", yamltree_kind_name(item));
		return;
	}
	memset(&d, 0, sizeof(d));
	d.route.mark = item->mark;
	d.route.all_policies = true;
	d.route.preflight = CONFIG_PREFLIGHT_ANSWER;
	schema_walk(&ctx->schema, item, config_route_keys, &d);
	if (yamltree_get(item, "path") == NULL) {
		diag_error(ctx->schema.diag, &item->mark, "a route needs "
		    "'path'");
	}
	if (config_push_route(ctx, &d.route, &d.ref) == -1) {
		config_route_clear(&d.route);
		schema_nomem(&ctx->schema, &item->mark);
	}
}


static void
config_set_routes(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;
	size_t			 i;

	(void)k;
	(void)target;

	for (i = 0; i < v->nitems; i++) {
		config_add_route(ctx, v->items[i]);
	}
}


static void
config_set_path(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx		*ctx = sc->owner;
	struct config_route_draft	*d = target;
	const char			*s;

	(void)k;

	if (v->text[0] != '/') {
		diag_error(ctx->schema.diag, &v->mark, "route path '%s' must "
		    "start with '/'", v->text);
		return;
	}
	for (s = v->text; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '?' ||
		    *s == '#') {
			diag_error(ctx->schema.diag, &v->mark, "route path "
			    "'%s' must not contain spaces, control "
			    "characters, '?' or '#'", v->text);
			return;
		}
	}
	if ((d->route.path = strdup(v->text)) == NULL) {
		schema_nomem(&ctx->schema, &v->mark);
	}
}


static void
config_resolve_upstream(struct config_ctx *ctx, struct config_route *r,
    const struct config_route_ref *ref)
{
	const struct config	*conf = ctx->conf;
	struct schema_near	 near;
	size_t			 i;

	if (ref->upstream == NULL) {
		if (config_find_group(conf, "default", &r->upstream) == NULL) {
			diag_error(ctx->schema.diag, &r->mark, "this route "
			    "needs 'upstream': there is no group named "
			    "'default'");
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
		schema_near_try(&near, conf->upstreams[i].name);
	}
	schema_unknown(&ctx->schema, &ref->upstream->mark, "upstream group",
	    &near);
}


static int
config_policy_index(struct config_ctx *ctx, const struct yamltree_node *v,
    size_t *index)
{
	const struct policy_set	*set = &ctx->conf->policies;
	const struct policy	*p;
	struct schema_near	 near;
	size_t			 i;

	if (v->kind != YAMLTREE_SCALAR) {
		diag_error(ctx->schema.diag, &v->mark, "each item of "
		    "'policies' must be a policy name, not %s",
		    yamltree_kind_name(v));
		return -1;
	}
	if ((p = policy_set_find(set, v->text)) != NULL) {
		*index = (size_t)(p - set->policies);
		return 0;
	}
	memset(&near, 0, sizeof(near));
	near.word = v->text;
	for (i = 0; i < set->count; i++) {
		schema_near_try(&near, set->policies[i].name);
	}
	schema_unknown(&ctx->schema, &v->mark, "policy", &near);
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
	/* Never NULL, even for "policies: []": the CORS decision reads a
	 * NULL list as every policy, and an empty one must allow none. */
	if ((r->policies = calloc(n > 0 ? n : 1, sizeof(size_t))) == NULL) {
		schema_nomem(&ctx->schema, &v->mark);
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
			diag_warning(ctx->schema.diag, &b->mark, "route '%s' "
			    "is never used: the route '%s' at line %d comes "
			    "first and takes all its requests", b->path,
			    a->path, a->mark.line);
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
		schema_nomem(&ctx->schema, &r.mark);
	}
}


/*
 * The config's own policies.
 */

static void
config_set_policies(struct schema_ctx *sc, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct config_ctx	*ctx = sc->owner;

	(void)k;
	(void)target;

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
		policyfile_read(&ctx->conf->policies, v, ctx->schema.diag);
		return;
	}
	if (v->text[0] == '/') {
		path = strdup(v->text);
	} else if (asprintf(&path, "%s%s", ctx->dir, v->text) == -1) {
		path = NULL;
	}
	if (path == NULL) {
		schema_nomem(&ctx->schema, &v->mark);
		return;
	}
	policyfile_load(&ctx->conf->policies, path, &v->mark,
	    ctx->schema.diag);
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
		if (confvalue_parse_hostport(listens[i], &l->host,
		    &l->port) == -1) {
			diag_error(ctx->schema.diag, &flag, "bad address '%s': "
			    "use HOST:PORT, or [IPv6]:PORT", listens[i]);
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
		confvalue_server_clear(&g->servers[i]);
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
	policyfile_add_dev(&ctx->conf->policies, "command-line", origins, n,
	    &flag, ctx->schema.diag);
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
			schema_nomem(&ctx->schema, NULL);
		} else {
			policyfile_load(&ctx->conf->policies, path, NULL,
			    ctx->schema.diag);
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
	policyfile_add_dev(&ctx->conf->policies, "development",
	    config_dev_origins,
	    sizeof(config_dev_origins) / sizeof(config_dev_origins[0]) - 1,
	    &defaults, ctx->schema.diag);
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
		schema_nomem(&ctx->schema, NULL);
		return -1;
	}
	top.file = conf->file;
	if (yamltree_load(conf->file, NULL, &ctx->root,
	    ctx->schema.diag) == -1) {
		return -1;
	}
	if (ctx->root != NULL && ctx->root->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->schema.diag, &ctx->root->mark, "the "
		    "configuration must be a mapping of keys such as "
		    "'listen' and 'upstream', not %s",
		    yamltree_kind_name(ctx->root));
		return -1;
	}

	if (ctx->root != NULL) {
		schema_walk(&ctx->schema, ctx->root, config_keys, conf);
	}
	if (ov == NULL || ov->policies_file == NULL) {
		config_load_policies(ctx);
	}
	if (yamltree_get(ctx->root, "upstream") == NULL &&
	    yamltree_get(ctx->root, "upstreams") == NULL &&
	    (ov == NULL || ov->nupstreams == 0)) {
		diag_error(ctx->schema.diag, &top, "no upstream: add "
		    "'upstream: http://HOST:PORT', or 'upstreams' with named "
		    "groups");
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
	    confvalue_parse_hostport(CONFIG_DEFAULT_LISTEN, &l->host,
	    &l->port) == -1) {
		schema_nomem(&ctx->schema, &mark);
	}
	if (conf->log.access == NULL &&
	    (conf->log.access = strdup("stderr")) == NULL) {
		schema_nomem(&ctx->schema, &mark);
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
	ctx.schema.diag = diag;
	ctx.schema.owner = &ctx;
	if ((ctx.conf = config_new()) == NULL) {
		schema_nomem(&ctx.schema, NULL);
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

