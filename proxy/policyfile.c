/*
 * Policy files and inline policy blocks, into a struct policy_set.
 *
 * The block is walked against key tables as the rest of the
 * configuration is (schema.c).  Once a policy is read whole, the lists
 * it did not write take their defaults, each list's header value is
 * joined once, and the policy is checked as a whole: a name and
 * origins present, and the origins weighed against its credentials,
 * which is where the warnings about risky origins come from.
 *
 * The marks copied into a policy point at the file its tree was read
 * from: set->file for a policy file, the config's own file for an
 * inline block.
 */
#include <stdlib.h>
#include <string.h>

#include "confvalue.h"
#include "policyfile.h"
#include "schema.h"

struct policyfile_regex_draft {
	const struct yamltree_node	*regex;
};

static schema_setter	policyfile_set_policy_list, policyfile_set_name;
static schema_setter	policyfile_set_origins, policyfile_set_tokens;
static schema_setter	policyfile_set_max_age;

static const char *const policyfile_modes[] = { "enforce", "report", NULL };
static const char *const policyfile_denied[] = { "forward", "reject", NULL };

_Static_assert(sizeof(enum policy_mode) == sizeof(int) &&
    sizeof(enum policy_on_denied) == sizeof(int), "enums are stored as int");

static const struct schema_key policyfile_regex_keys[] = {
	{ "regex", SCHEMA_T_SCALAR, "a regular expression",
	    schema_set_node, offsetof(struct policyfile_regex_draft, regex),
	    NULL },
	SCHEMA_END
};

static const struct schema_key policyfile_policy_keys[] = {
	{ "name", SCHEMA_T_SCALAR, "a name", policyfile_set_name, 0, NULL },
	{ "origins", SCHEMA_T_LIST, "a list of origins",
	    policyfile_set_origins, 0, NULL },
	{ "allow_methods", SCHEMA_T_SCALAR | SCHEMA_T_LIST,
	    "a list of methods or '*'", policyfile_set_tokens,
	    offsetof(struct policy, allow_methods), "method" },
	{ "allow_headers", SCHEMA_T_SCALAR | SCHEMA_T_LIST,
	    "a list of header names or '*'", policyfile_set_tokens,
	    offsetof(struct policy, allow_headers), "header name" },
	{ "expose_headers", SCHEMA_T_SCALAR | SCHEMA_T_LIST,
	    "a list of header names or '*'", policyfile_set_tokens,
	    offsetof(struct policy, expose_headers), "header name" },
	{ "allow_credentials", SCHEMA_T_SCALAR, "true or false",
	    schema_set_bool, offsetof(struct policy, allow_credentials),
	    NULL },
	{ "max_age", SCHEMA_T_SCALAR, "a number of seconds",
	    policyfile_set_max_age, 0, NULL },
	{ "allow_private_network", SCHEMA_T_SCALAR, "true or false",
	    schema_set_bool,
	    offsetof(struct policy, allow_private_network), NULL },
	{ "on_denied", SCHEMA_T_SCALAR, "forward or reject",
	    schema_set_enum, offsetof(struct policy, on_denied),
	    policyfile_denied },
	SCHEMA_END
};

/* A policy file, and the same block written inline. */
static const struct schema_key policyfile_keys[] = {
	{ "mode", SCHEMA_T_SCALAR, "enforce or report",
	    schema_set_enum, offsetof(struct policy_set, mode),
	    policyfile_modes },
	{ "policies", SCHEMA_T_LIST, "a list of policies",
	    policyfile_set_policy_list, 0, NULL },
	SCHEMA_END
};

/* The methods a policy allows when it names none. */
static const char *const policyfile_default_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", NULL
};


/*
 * Lists of tokens.
 */

static int
policyfile_list_add(struct policy_list *list, const char *item)
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
policyfile_list_join(struct policy_list *list)
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
policyfile_add_token(struct schema_ctx *ctx, const struct schema_key *k,
    struct policy_list *list, const struct yamltree_node *v)
{
	if (v->kind != YAMLTREE_SCALAR) {
		diag_error(ctx->diag, &v->mark, "each item of '%s' must be "
		    "a %s, not %s", k->name, (const char *)k->arg,
		    yamltree_kind_name(v));
	} else if (strcmp(v->text, "*") == 0) {
		list->any = true;
	} else if (!confvalue_is_token(v->text)) {
		diag_error(ctx->diag, &v->mark, "bad %s '%s' in '%s': write "
		    "one name per item, as in [GET, POST]",
		    (const char *)k->arg, v->text, k->name);
	} else if (policyfile_list_add(list, v->text) == -1) {
		schema_nomem(ctx, &v->mark);
	}
}


static void
policyfile_set_tokens(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy_list	*list;
	size_t			 i;

	list = (struct policy_list *)((char *)target + k->offset);
	if (v->kind == YAMLTREE_SCALAR) {
		policyfile_add_token(ctx, k, list, v);
	}
	for (i = 0; i < v->nitems; i++) {
		policyfile_add_token(ctx, k, list, v->items[i]);
	}
	if (list->any && list->count > 0) {
		diag_error(ctx->diag, &v->mark, "'*' in '%s' means any %s, so "
		    "it must stand alone: write %s: '*'", k->name,
		    (const char *)k->arg, k->name);
	}
	if (policyfile_list_join(list) == -1) {
		schema_nomem(ctx, &v->mark);
	}
}


/* The lists a policy did not write take their defaults. */
static int
policyfile_defaults(struct policy *p, const struct yamltree_node *item)
{
	const char *const	*m;

	if (yamltree_get(item, "allow_methods") == NULL) {
		for (m = policyfile_default_methods; *m != NULL; m++) {
			if (policyfile_list_add(&p->allow_methods, *m) == -1) {
				return -1;
			}
		}
		if (policyfile_list_join(&p->allow_methods) == -1) {
			return -1;
		}
	}
	if (yamltree_get(item, "allow_headers") == NULL) {
		p->allow_headers.any = true;
		if (policyfile_list_join(&p->allow_headers) == -1) {
			return -1;
		}
	}
	if (yamltree_get(item, "expose_headers") == NULL &&
	    policyfile_list_join(&p->expose_headers) == -1) {
		return -1;
	}
	return 0;
}


/*
 * Names, origins and the checks that need a whole policy.
 */

static void
policyfile_set_name(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy	*p = target;

	(void)k;

	if (!confvalue_is_name(v->text)) {
		diag_error(ctx->diag, &v->mark, "bad policy name '%s': use "
		    "letters, digits, '-', '_' and '.'", v->text);
	} else if ((p->name = strdup(v->text)) == NULL) {
		schema_nomem(ctx, &v->mark);
	}
}


static void
policyfile_set_max_age(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy	*p = target;

	if (schema_number(v, &p->max_age) == -1) {
		schema_bad_number(ctx, k, v);
	}
}


/* Returns true when a regex has an upper-case letter that is not part
 * of an escape such as \\D or \\S and the regex does not start with
 * (?i): it can never match the lower-cased origin it is given. */
static bool
policyfile_regex_has_upper(const char *re)
{
	const char	*s;

	if (strncmp(re, "(?i", 3) == 0 || strncmp(re, "^(?i", 4) == 0) {
		return false;
	}
	for (s = re; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
		} else if (*s >= 'A' && *s <= 'Z') {
			return true;
		}
	}
	return false;
}


static int
policyfile_add_regex(struct schema_ctx *ctx, const struct yamltree_node *item,
    struct origin_pattern *o)
{
	struct policyfile_regex_draft	 d;
	char				 errbuf[CONFVALUE_ERRLEN];

	memset(&d, 0, sizeof(d));
	schema_walk(ctx, item, policyfile_regex_keys, &d);
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
	if (policyfile_regex_has_upper(d.regex->text)) {
		diag_warning(ctx->diag, &d.regex->mark, "regex '%s' has "
		    "upper-case letters, but origins are matched lower-cased: "
		    "write it in lower case or start it with (?i)",
		    d.regex->text);
	}
	return 0;
}


static int
policyfile_add_origin(struct schema_ctx *ctx, const struct yamltree_node *item,
    struct origin_pattern *o)
{
	char	 errbuf[CONFVALUE_ERRLEN];
	int	 rc = -1;

	o->mark = item->mark;
	if (item->kind == YAMLTREE_MAPPING) {
		rc = policyfile_add_regex(ctx, item, o);
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
policyfile_set_origins(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	struct policy	*p = target;
	size_t		 i;

	(void)k;

	if (v->nitems == 0) {
		diag_error(ctx->diag, &v->mark, "'origins' must not be empty");
		return;
	}
	if ((p->origins = calloc(v->nitems, sizeof(*p->origins))) == NULL) {
		schema_nomem(ctx, &v->mark);
		return;
	}
	for (i = 0; i < v->nitems; i++) {
		if (policyfile_add_origin(ctx, v->items[i],
		    &p->origins[p->norigins]) == 0) {
			p->norigins++;
		}
	}
}


static bool
policyfile_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 ||
	    strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
}


/* What each origin means together with the policy's credentials. */
static void
policyfile_check_origin(struct schema_ctx *ctx, const struct policy *p,
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
	if (strcmp(o->scheme, "http") == 0 &&
	    !policyfile_is_loopback(o->host)) {
		diag_warning(ctx->diag, &o->mark, "'%s' is plain http with "
		    "credentials: anyone on the network path can inject "
		    "script into it and read your users' data; use https",
		    o->text);
	}
}


static void
policyfile_check_max_age(struct schema_ctx *ctx, const struct policy *p,
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
policyfile_check_policy(struct schema_ctx *ctx, const struct policy_set *set,
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
		policyfile_check_origin(ctx, p, &p->origins[i]);
	}
	policyfile_check_max_age(ctx, p, item);
}


/*
 * Policy sets: a file, an inline block, or the built-in ones.
 */

static struct policy *
policyfile_new_policy(struct schema_ctx *ctx, struct policy_set *set,
    const struct diag_mark *mark)
{
	struct policy	*policies, *p;

	policies = schema_append(set->policies, set->count,
	    sizeof(*policies));
	if (policies == NULL) {
		schema_nomem(ctx, mark);
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
policyfile_add_policy(struct schema_ctx *ctx, struct policy_set *set,
    const struct yamltree_node *item)
{
	struct policy	*p;

	if (item->kind != YAMLTREE_MAPPING) {
		diag_error(ctx->diag, &item->mark, "each policy must be a "
		    "mapping with 'name' and 'origins', not %s",
		    yamltree_kind_name(item));
		return;
	}
	if ((p = policyfile_new_policy(ctx, set, &item->mark)) == NULL) {
		return;
	}
	schema_walk(ctx, item, policyfile_policy_keys, p);
	if (policyfile_defaults(p, item) == -1) {
		schema_nomem(ctx, &item->mark);
	}
	policyfile_check_policy(ctx, set, p, item);
}


static void
policyfile_set_policy_list(struct schema_ctx *ctx, const struct schema_key *k,
    const struct yamltree_node *v, void *target)
{
	size_t	 i;

	(void)k;

	for (i = 0; i < v->nitems; i++) {
		policyfile_add_policy(ctx, target, v->items[i]);
	}
}


/* A mapping with "mode" and "policies", in a file or inline. */
void
policyfile_read(struct policy_set *set, const struct yamltree_node *v,
    struct diag *diag)
{
	struct schema_ctx	 ctx = { diag, NULL };

	if (v->kind == YAMLTREE_SEQUENCE) {
		policyfile_set_policy_list(&ctx, NULL, v, set);
		return;
	}
	if (v->kind != YAMLTREE_MAPPING) {
		diag_error(diag, &v->mark, "policies must be a mapping "
		    "with a 'policies' list, not %s", yamltree_kind_name(v));
		return;
	}
	schema_walk(&ctx, v, policyfile_keys, set);
	if (yamltree_get(v, "policies") == NULL) {
		diag_error(diag, &v->mark, "a policy set needs a "
		    "'policies' list");
	}
}


/* Every mark in the policies points at set->file, which is path. */
void
policyfile_load(struct policy_set *set, char *path,
    const struct diag_mark *from, struct diag *diag)
{
	struct yamltree_node	*root;
	struct diag_mark	 top;

	policy_set_clear(set);
	set->file = path;
	if (yamltree_load(set->file, from, &root, diag) == -1) {
		return;
	}
	if (root == NULL) {
		top.file = set->file;
		top.line = 1;
		top.column = 1;
		diag_error(diag, &top, "the policy file is empty; it "
		    "needs a 'policies' list");
		return;
	}
	policyfile_read(set, root, diag);
	yamltree_free(root);
}


void
policyfile_add_dev(struct policy_set *set, const char *name,
    const char *const *origins, size_t n, const struct diag_mark *mark,
    struct diag *diag)
{
	struct schema_ctx	 ctx = { diag, NULL };
	struct policy		*p;
	char			 errbuf[CONFVALUE_ERRLEN];
	size_t			 i;

	if ((p = policyfile_new_policy(&ctx, set, mark)) == NULL) {
		return;
	}
	p->allow_methods.any = p->allow_headers.any = true;
	p->allow_credentials = p->allow_private_network = true;
	if ((p->name = strdup(name)) == NULL ||
	    (n > 0 && (p->origins = calloc(n, sizeof(*p->origins))) == NULL) ||
	    policyfile_list_join(&p->allow_methods) == -1 ||
	    policyfile_list_join(&p->allow_headers) == -1 ||
	    policyfile_list_join(&p->expose_headers) == -1) {
		schema_nomem(&ctx, mark);
		return;
	}
	for (i = 0; i < n; i++) {
		p->origins[p->norigins].mark = *mark;
		if (origin_pattern_parse(&p->origins[p->norigins], origins[i],
		    errbuf, sizeof(errbuf)) == -1) {
			diag_error(diag, mark, "%s", errbuf);
			continue;
		}
		policyfile_check_origin(&ctx, p, &p->origins[p->norigins++]);
	}
}
