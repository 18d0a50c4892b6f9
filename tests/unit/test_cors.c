/*
 * The CORS decision, from tables of cases.  Policies are built by hand
 * from short specs (the loader is tested elsewhere); each case gives a
 * request and the decision, reason, refused name and the exact
 * response headers, in order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cors.h"

#define VARY		"Origin, Access-Control-Request-Method, " \
			    "Access-Control-Request-Headers"
#define VARY_PNA	VARY ", Access-Control-Request-Private-Network"

#define ACAO	"Access-Control-Allow-Origin"
#define ACAM	"Access-Control-Allow-Methods"
#define ACAH	"Access-Control-Allow-Headers"
#define ACAC	"Access-Control-Allow-Credentials"
#define ACMA	"Access-Control-Max-Age"
#define ACAPN	"Access-Control-Allow-Private-Network"
#define ACEH	"Access-Control-Expose-Headers"

/* A policy as a test writes it; lists end at NULL, { "*" } is any. */
struct spec {
	const char		*name;
	const char		*origins[4];	/* "re:" starts a regex */
	const char		*methods[8];
	const char		*headers[8];
	const char		*expose[8];
	bool			 credentials;
	long			 max_age;
	bool			 private_network;
	enum policy_on_denied	 on_denied;
};

#define SPEC_APP { "app",						\
	{ "https://app.example.com", "https://*.example.org" },		\
	{ "GET", "POST", "PUT", "DELETE", "PATCH" },			\
	{ "Content-Type", "Authorization", "X-Requested-With" },	\
	{ "X-Request-Id", "X-Trace" }, true, 600, false,		\
	POLICY_DENIED_FORWARD }
#define SPEC_PARTNER { "partner", { "https://partner.example.com" },	\
	{ "GET", "POST" }, { "Content-Type" }, { NULL }, false, -1,	\
	false, POLICY_DENIED_FORWARD }
#define SPEC_DEV { "dev", { "http://localhost:*", "http://[::1]:*" },	\
	{ "*" }, { "*" }, { "*" }, true, 7200, true,			\
	POLICY_DENIED_FORWARD }
#define SPEC_OPEN { "open", { "*" }, { "GET" }, { "*" }, { "*" },	\
	false, 0, false, POLICY_DENIED_FORWARD }
#define SPEC_ANY_CREDENTIALS { "anycred", { "*" }, { "GET" }, { NULL },	\
	{ NULL }, true, -1, false, POLICY_DENIED_FORWARD }
#define SPEC_LOCKED { "locked",						\
	{ "re:^https://pr-[0-9]+\\.preview\\.example\\.com$" },		\
	{ "GET" }, { NULL }, { NULL }, false, -1, false,		\
	POLICY_DENIED_REJECT }
#define SPEC_INTERNAL { "internal", { "https://internal.example.com" },	\
	{ "GET" }, { NULL }, { NULL }, false, -1, false,		\
	POLICY_DENIED_REJECT }

enum set_id {
	S_MAIN,		/* app, partner, dev, open */
	S_REPORT,	/* app, partner in report mode */
	S_ANYCRED,	/* "*" with credentials */
	S_REJECT,	/* locked, internal: both reject */
	S_MIXED,	/* locked rejects, partner forwards */
	S_COUNT
};

static const struct spec main_specs[] = { SPEC_APP, SPEC_PARTNER,
	SPEC_DEV, SPEC_OPEN };
static const struct spec report_specs[] = { SPEC_APP, SPEC_PARTNER };
static const struct spec anycred_specs[] = { SPEC_ANY_CREDENTIALS };
static const struct spec reject_specs[] = { SPEC_LOCKED, SPEC_INTERNAL };
static const struct spec mixed_specs[] = { SPEC_LOCKED, SPEC_PARTNER };

static struct policy_set sets[S_COUNT];

/* Access-Control-Request-Headers at the limit and one byte past it. */
static char acrh_limit[CORS_REQUEST_HEADERS_MAX + 1];
static char acrh_huge[CORS_REQUEST_HEADERS_MAX + 2];


static void
list_build(struct policy_list *l, const char *const *items)
{
	size_t	 i, n = 0, size = 1;

	memset(l, 0, sizeof(*l));
	if (items[0] != NULL && strcmp(items[0], "*") == 0) {
		l->any = true;
		return;
	}
	while (items[n] != NULL) {
		size += strlen(items[n++]) + 2;
	}
	l->count = n;
	l->items = calloc(n + 1, sizeof(char *));
	l->joined = n > 0 ? calloc(1, size) : NULL;
	cr_assert_not_null(l->items);
	for (i = 0; i < n; i++) {
		l->items[i] = (char *)items[i];
		if (i > 0) {
			strcat(l->joined, ", ");
		}
		strcat(l->joined, items[i]);
	}
}


static void
policy_build(struct policy *p, const struct spec *s)
{
	char	 err[256];
	size_t	 i;

	memset(p, 0, sizeof(*p));
	p->name = (char *)s->name;
	while (p->norigins < 4 && s->origins[p->norigins] != NULL) {
		p->norigins++;
	}
	p->origins = calloc(p->norigins, sizeof(*p->origins));
	cr_assert_not_null(p->origins);
	for (i = 0; i < p->norigins; i++) {
		const char *o = s->origins[i];

		cr_assert_eq(strncmp(o, "re:", 3) == 0 ?
		    origin_pattern_regex(&p->origins[i], o + 3, err,
		    sizeof(err)) : origin_pattern_parse(&p->origins[i], o,
		    err, sizeof(err)), 0, "%s: %s", o, err);
	}
	list_build(&p->allow_methods, s->methods);
	list_build(&p->allow_headers, s->headers);
	list_build(&p->expose_headers, s->expose);
	p->allow_credentials = s->credentials;
	p->max_age = s->max_age;
	p->allow_private_network = s->private_network;
	p->on_denied = s->on_denied;
}


static void
set_build(enum set_id id, enum policy_mode mode, const struct spec *specs,
    size_t n)
{
	size_t	 i;

	sets[id].mode = mode;
	sets[id].count = n;
	sets[id].policies = calloc(n, sizeof(struct policy));
	cr_assert_not_null(sets[id].policies);
	for (i = 0; i < n; i++) {
		policy_build(&sets[id].policies[i], &specs[i]);
	}
}


static void
list_free(struct policy_list *l)
{
	free(l->items);
	free(l->joined);
}


static void
sets_free(void)
{
	struct policy	*p;
	size_t		 id, i, j;

	for (id = 0; id < S_COUNT; id++) {
		for (i = 0; i < sets[id].count; i++) {
			p = &sets[id].policies[i];
			for (j = 0; j < p->norigins; j++) {
				origin_pattern_clear(&p->origins[j]);
			}
			free(p->origins);
			list_free(&p->allow_methods);
			list_free(&p->allow_headers);
			list_free(&p->expose_headers);
		}
		free(sets[id].policies);
		memset(&sets[id], 0, sizeof(sets[id]));
	}
}


#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
sets_build(void)
{
	size_t	 i;

	set_build(S_MAIN, POLICY_ENFORCE, main_specs, NELEM(main_specs));
	set_build(S_REPORT, POLICY_REPORT, report_specs,
	    NELEM(report_specs));
	set_build(S_ANYCRED, POLICY_ENFORCE, anycred_specs,
	    NELEM(anycred_specs));
	set_build(S_REJECT, POLICY_ENFORCE, reject_specs,
	    NELEM(reject_specs));
	set_build(S_MIXED, POLICY_ENFORCE, mixed_specs, NELEM(mixed_specs));

	/* "content-type," 630 times and two spaces: exactly the limit. */
	for (i = 0; i < 630; i++) {
		memcpy(acrh_limit + i * 13, "content-type,", 13);
	}
	memcpy(acrh_limit + 630 * 13, "  ", 3);
	memset(acrh_huge, 'a', sizeof(acrh_huge) - 1);
	acrh_huge[sizeof(acrh_huge) - 1] = '\0';
}

TestSuite(cors, .init = sets_build, .fini = sets_free);

struct cors_case {
	const char		*behaviour;
	enum set_id		 set;
	const size_t		*indexes;
	size_t			 nindexes;
	struct cors_request	 req;
	enum cors_decision	 decision;
	enum cors_reason	 reason;
	const char		*policy;	/* name, or NULL */
	const char		*denied;
	bool			 reported;
	bool			 reject;
	bool			 expose_all;
	const char		*headers[2 * CORS_MAX_HEADERS + 1];
};

static const size_t only_app_partner[] = { 0, 1 };
static const size_t only_open[] = { 3 };
static const size_t open_then_app[] = { 3, 0 };
static const size_t only_partner[] = { 1 };
static const size_t stale_then_partner[] = { 9, 1 };
static const size_t only_locked[] = { 0 };

#define PREFLIGHT(o, m, h)	{ "OPTIONS", (o), (m), (h), false }
#define PREFLIGHT_PNA(o, m, h)	{ "OPTIONS", (o), (m), (h), true }
#define ACTUAL(m, o)		{ (m), (o), NULL, NULL, false }

static const struct cors_case cases[] = {
	{ "request_without_origin_is_untouched", S_MAIN, NULL, 0,
	    ACTUAL("GET", NULL), CORS_NO_ORIGIN, CORS_REASON_NONE, NULL,
	    "", false, false, false, { NULL } },
	{ "options_without_origin_is_not_a_preflight", S_MAIN, NULL, 0,
	    PREFLIGHT(NULL, "PUT", NULL), CORS_NO_ORIGIN, CORS_REASON_NONE,
	    NULL, "", false, false, false, { NULL } },

	/* allowed preflights */
	{ "preflight_allowed_with_credentials_reflects_origin", S_MAIN,
	    NULL, 0, PREFLIGHT("https://app.example.com", "PUT",
	    "content-type,authorization"), CORS_ALLOWED, CORS_REASON_NONE,
	    "app", "", false, false, false,
	    { ACAO, "https://app.example.com",
	    ACAM, "GET, POST, PUT, DELETE, PATCH",
	    ACAH, "Content-Type, Authorization, X-Requested-With",
	    ACAC, "true", ACMA, "600", "Vary", VARY, NULL } },
	{ "preflight_allowed_for_deep_subdomain", S_MAIN, NULL, 0,
	    PREFLIGHT("https://a.b.example.org", "GET", NULL), CORS_ALLOWED,
	    CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://a.b.example.org",
	    ACAM, "GET, POST, PUT, DELETE, PATCH",
	    ACAC, "true", ACMA, "600", "Vary", VARY, NULL } },
	{ "preflight_allowed_without_credentials", S_MAIN, NULL, 0,
	    PREFLIGHT("https://partner.example.com", "POST", "Content-Type"),
	    CORS_ALLOWED, CORS_REASON_NONE, "partner", "", false, false,
	    false, { ACAO, "https://partner.example.com", ACAM, "GET, POST",
	    ACAH, "Content-Type", "Vary", VARY, NULL } },
	{ "preflight_without_request_headers_omits_allow_headers", S_MAIN,
	    NULL, 0, PREFLIGHT("https://partner.example.com", "GET", NULL),
	    CORS_ALLOWED, CORS_REASON_NONE, "partner", "", false, false,
	    false, { ACAO, "https://partner.example.com", ACAM, "GET, POST",
	    "Vary", VARY, NULL } },
	{ "preflight_with_only_empty_header_elements_omits_allow_headers",
	    S_MAIN, NULL, 0, PREFLIGHT("https://partner.example.com", "GET",
	    " , ,\t,"), CORS_ALLOWED, CORS_REASON_NONE, "partner", "",
	    false, false, false, { ACAO, "https://partner.example.com",
	    ACAM, "GET, POST", "Vary", VARY, NULL } },
	{ "any_origin_without_credentials_answers_star", S_MAIN, NULL, 0,
	    PREFLIGHT("https://random.example.net", "GET", "x-foo"),
	    CORS_ALLOWED, CORS_REASON_NONE, "open", "", false, false, false,
	    { ACAO, "*", ACAM, "GET", ACAH, "x-foo", ACMA, "0",
	    "Vary", VARY, NULL } },
	{ "any_origin_with_credentials_reflects_origin", S_ANYCRED, NULL, 0,
	    PREFLIGHT("https://random.example.net", "GET", NULL),
	    CORS_ALLOWED, CORS_REASON_NONE, "anycred", "", false, false,
	    false, { ACAO, "https://random.example.net", ACAM, "GET",
	    ACAC, "true", "Vary", VARY, NULL } },
	{ "preflight_allows_listed_method_in_its_exact_case", S_MAIN, NULL,
	    0, PREFLIGHT("https://app.example.com", "PATCH", NULL),
	    CORS_ALLOWED, CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://app.example.com",
	    ACAM, "GET, POST, PUT, DELETE, PATCH",
	    ACAC, "true", ACMA, "600", "Vary", VARY, NULL } },
	{ "preflight_allows_header_names_case_insensitively", S_MAIN, NULL,
	    0, PREFLIGHT("https://app.example.com", "POST",
	    "CONTENT-TYPE,AUTHORIZATION,x-requested-with"), CORS_ALLOWED,
	    CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://app.example.com",
	    ACAM, "GET, POST, PUT, DELETE, PATCH",
	    ACAH, "Content-Type, Authorization, X-Requested-With",
	    ACAC, "true", ACMA, "600", "Vary", VARY, NULL } },
	{ "preflight_request_headers_tolerate_spaces_and_empty_elements",
	    S_MAIN, NULL, 0, PREFLIGHT("https://app.example.com", "POST",
	    ", content-type ,,\tauthorization\t,"), CORS_ALLOWED,
	    CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://app.example.com",
	    ACAM, "GET, POST, PUT, DELETE, PATCH",
	    ACAH, "Content-Type, Authorization, X-Requested-With",
	    ACAC, "true", ACMA, "600", "Vary", VARY, NULL } },
	{ "preflight_reflects_method_and_headers_when_any", S_MAIN, NULL, 0,
	    PREFLIGHT("http://localhost:5173", "PROPFIND",
	    " x-a ,,X-B,\tauthorization"), CORS_ALLOWED, CORS_REASON_NONE,
	    "dev", "", false, false, false,
	    { ACAO, "http://localhost:5173", ACAM, "PROPFIND",
	    ACAH, "x-a, X-B, authorization", ACAC, "true",
	    ACMA, "7200", "Vary", VARY_PNA, NULL } },
	{ "preflight_at_the_request_headers_limit_is_parsed", S_MAIN, NULL,
	    0, PREFLIGHT("https://app.example.com", "POST", acrh_limit),
	    CORS_ALLOWED, CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://app.example.com",
	    ACAM, "GET, POST, PUT, DELETE, PATCH",
	    ACAH, "Content-Type, Authorization, X-Requested-With",
	    ACAC, "true", ACMA, "600", "Vary", VARY, NULL } },
	{ "preflight_allows_private_network_when_policy_does", S_MAIN, NULL,
	    0, PREFLIGHT_PNA("http://[::1]:3000", "GET", NULL),
	    CORS_ALLOWED, CORS_REASON_NONE, "dev", "", false, false, false,
	    { ACAO, "http://[::1]:3000", ACAM, "GET", ACAC, "true",
	    ACMA, "7200", ACAPN, "true", "Vary", VARY_PNA, NULL } },
	{ "preflight_vary_names_private_network_when_policy_allows_it",
	    S_MAIN, NULL, 0, PREFLIGHT("http://localhost", "GET", NULL),
	    CORS_ALLOWED, CORS_REASON_NONE, "dev", "", false, false, false,
	    { ACAO, "http://localhost", ACAM, "GET", ACAC, "true",
	    ACMA, "7200", "Vary", VARY_PNA, NULL } },

	/* denied preflights */
	{ "preflight_denies_unlisted_method", S_MAIN, NULL, 0,
	    PREFLIGHT("https://partner.example.com", "PUT", NULL),
	    CORS_DENIED, CORS_REASON_METHOD, "partner", "PUT", false, false,
	    false, { "Vary", VARY, NULL } },
	{ "preflight_method_comparison_is_case_sensitive", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "patch", NULL),
	    CORS_DENIED, CORS_REASON_METHOD, "app", "patch", false, false,
	    false, { "Vary", VARY, NULL } },
	{ "preflight_denies_method_that_is_not_a_token", S_MAIN, NULL, 0,
	    PREFLIGHT("http://localhost:3000", "GET POST", NULL),
	    CORS_DENIED, CORS_REASON_METHOD, "dev", "GET POST", false, false,
	    false, { "Vary", VARY_PNA, NULL } },
	{ "preflight_denies_unlisted_header", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "GET",
	    "content-type, x-debug"), CORS_DENIED, CORS_REASON_HEADER, "app",
	    "x-debug", false, false, false, { "Vary", VARY, NULL } },
	{ "preflight_denies_header_name_that_is_not_a_token", S_MAIN, NULL,
	    0, PREFLIGHT("http://localhost:3000", "GET", "x-a, x b"),
	    CORS_DENIED, CORS_REASON_HEADER, "dev", "x b", false, false,
	    false, { "Vary", VARY_PNA, NULL } },
	{ "preflight_denies_huge_request_headers_even_when_any", S_MAIN,
	    NULL, 0, PREFLIGHT("http://localhost:3000", "GET", acrh_huge),
	    CORS_DENIED, CORS_REASON_HEADER, "dev", "", false, false, false,
	    { "Vary", VARY_PNA, NULL } },
	{ "preflight_denies_private_network_unless_allowed", S_MAIN, NULL, 0,
	    PREFLIGHT_PNA("https://app.example.com", "GET", NULL),
	    CORS_DENIED, CORS_REASON_PRIVATE_NETWORK, "app", "", false, false,
	    false, { "Vary", VARY_PNA, NULL } },
	{ "preflight_reports_the_method_before_a_header", S_MAIN, NULL, 0,
	    PREFLIGHT("https://partner.example.com", "PUT", "x-debug"),
	    CORS_DENIED, CORS_REASON_METHOD, "partner", "PUT", false, false,
	    false, { "Vary", VARY, NULL } },
	{ "preflight_from_unknown_origin_gets_only_vary", S_MAIN,
	    only_app_partner, 2, PREFLIGHT("https://evil.example.com", "GET",
	    NULL), CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", false, false,
	    false, { "Vary", VARY, NULL } },
	{ "preflight_from_lookalike_origin_is_denied", S_MAIN,
	    only_app_partner, 2, PREFLIGHT("https://evilexample.org", "GET",
	    NULL), CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", false, false,
	    false, { "Vary", VARY, NULL } },
	{ "denied_origin_asking_private_network_varies_on_it", S_MAIN,
	    only_app_partner, 2, PREFLIGHT_PNA("https://evil.example.com",
	    "GET", NULL), CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", false,
	    false, false, { "Vary", VARY_PNA, NULL } },

	/* actual requests */
	{ "actual_request_gets_origin_credentials_and_expose", S_MAIN, NULL,
	    0, ACTUAL("GET", "https://app.example.com"), CORS_ALLOWED,
	    CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://app.example.com", ACAC, "true",
	    ACEH, "X-Request-Id, X-Trace", NULL } },
	{ "actual_request_without_expose_list_gets_only_origin", S_MAIN,
	    NULL, 0, ACTUAL("POST", "https://partner.example.com"),
	    CORS_ALLOWED, CORS_REASON_NONE, "partner", "", false, false,
	    false, { ACAO, "https://partner.example.com", NULL } },
	{ "actual_request_expose_star_without_credentials_sends_star",
	    S_MAIN, NULL, 0, ACTUAL("GET", "https://random.example.net"),
	    CORS_ALLOWED, CORS_REASON_NONE, "open", "", false, false, false,
	    { ACAO, "*", ACEH, "*", NULL } },
	{ "actual_request_expose_star_with_credentials_lists_names",
	    S_MAIN, NULL, 0, ACTUAL("GET", "http://localhost:8000"),
	    CORS_ALLOWED, CORS_REASON_NONE, "dev", "", false, false, true,
	    { ACAO, "http://localhost:8000", ACAC, "true", NULL } },
	{ "actual_request_from_ipv6_loopback_is_allowed", S_MAIN, NULL, 0,
	    ACTUAL("DELETE", "http://[::1]:5173"), CORS_ALLOWED,
	    CORS_REASON_NONE, "dev", "", false, false, true,
	    { ACAO, "http://[::1]:5173", ACAC, "true", NULL } },
	{ "options_without_request_method_is_an_actual_request", S_MAIN,
	    NULL, 0, ACTUAL("OPTIONS", "https://partner.example.com"),
	    CORS_ALLOWED, CORS_REASON_NONE, "partner", "", false, false,
	    false, { ACAO, "https://partner.example.com", NULL } },
	{ "actual_request_from_unknown_origin_is_forwarded_bare", S_MAIN,
	    only_app_partner, 2, ACTUAL("GET", "https://evil.example.com"),
	    CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", false, false, false,
	    { NULL } },
	{ "null_origin_is_not_matched_by_star", S_MAIN, NULL, 0,
	    ACTUAL("GET", "null"), CORS_DENIED, CORS_REASON_ORIGIN, NULL, "",
	    false, false, false, { NULL } },

	/* which policy decides */
	{ "first_matching_policy_wins", S_MAIN, NULL, 0,
	    ACTUAL("GET", "https://app.example.com"), CORS_ALLOWED,
	    CORS_REASON_NONE, "app", "", false, false, false,
	    { ACAO, "https://app.example.com", ACAC, "true",
	    ACEH, "X-Request-Id, X-Trace", NULL } },
	{ "route_indexes_restrict_the_policies", S_MAIN, only_open, 1,
	    ACTUAL("GET", "https://app.example.com"), CORS_ALLOWED,
	    CORS_REASON_NONE, "open", "", false, false, false,
	    { ACAO, "*", ACEH, "*", NULL } },
	{ "route_indexes_order_decides_the_first_match", S_MAIN,
	    open_then_app, 2, ACTUAL("GET", "https://app.example.com"),
	    CORS_ALLOWED, CORS_REASON_NONE, "open", "", false, false, false,
	    { ACAO, "*", ACEH, "*", NULL } },
	{ "route_indexes_exclude_a_matching_policy", S_MAIN, only_partner,
	    1, ACTUAL("GET", "https://app.example.com"), CORS_DENIED,
	    CORS_REASON_ORIGIN, NULL, "", false, false, false, { NULL } },
	{ "route_index_out_of_range_is_skipped", S_MAIN, stale_then_partner,
	    2, ACTUAL("GET", "https://partner.example.com"), CORS_ALLOWED,
	    CORS_REASON_NONE, "partner", "", false, false, false,
	    { ACAO, "https://partner.example.com", NULL } },
	{ "empty_route_policy_list_denies_every_origin", S_MAIN, only_open,
	    0, ACTUAL("GET", "https://random.example.net"), CORS_DENIED,
	    CORS_REASON_ORIGIN, NULL, "", false, false, false, { NULL } },

	/* on_denied: reject */
	{ "unknown_origin_rejected_when_every_policy_rejects", S_REJECT,
	    NULL, 0, ACTUAL("GET", "https://evil.example.com"), CORS_DENIED,
	    CORS_REASON_ORIGIN, NULL, "", false, true, false, { NULL } },
	{ "unknown_origin_forwarded_when_one_policy_forwards", S_MIXED,
	    NULL, 0, ACTUAL("GET", "https://evil.example.com"), CORS_DENIED,
	    CORS_REASON_ORIGIN, NULL, "", false, false, false, { NULL } },
	{ "unknown_origin_rejected_when_route_policies_reject", S_MIXED,
	    only_locked, 1, ACTUAL("GET", "https://evil.example.com"),
	    CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", false, true, false,
	    { NULL } },
	{ "unknown_origin_preflight_rejected_when_every_policy_rejects",
	    S_REJECT, NULL, 0, PREFLIGHT("https://evil.example.com", "GET",
	    NULL), CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", false, true,
	    false, { "Vary", VARY, NULL } },
	{ "preflight_denied_on_method_is_never_a_reject", S_REJECT, NULL, 0,
	    PREFLIGHT("https://internal.example.com", "PUT", NULL),
	    CORS_DENIED, CORS_REASON_METHOD, "internal", "PUT", false, false,
	    false, { "Vary", VARY, NULL } },
	{ "no_candidate_policy_means_no_reject", S_REJECT, only_locked, 0,
	    ACTUAL("GET", "https://evil.example.com"), CORS_DENIED,
	    CORS_REASON_ORIGIN, NULL, "", false, false, false, { NULL } },
	{ "regex_origin_of_rejecting_policy_is_allowed", S_REJECT, NULL, 0,
	    ACTUAL("GET", "https://pr-12.preview.example.com"),
	    CORS_ALLOWED, CORS_REASON_NONE, "locked", "", false, false,
	    false, { ACAO, "https://pr-12.preview.example.com", NULL } },

	/* report mode */
	{ "report_mode_answers_unlisted_method_as_allowed", S_REPORT, NULL,
	    0, PREFLIGHT("https://partner.example.com", "PUT",
	    "content-type"), CORS_ALLOWED, CORS_REASON_METHOD, "partner",
	    "PUT", true, false, false,
	    { ACAO, "https://partner.example.com", ACAM, "PUT",
	    ACAH, "content-type", "Vary", VARY, NULL } },
	{ "report_mode_answers_unlisted_header_as_allowed", S_REPORT, NULL,
	    0, PREFLIGHT("https://partner.example.com", "GET",
	    "x-debug,content-type"), CORS_ALLOWED, CORS_REASON_HEADER,
	    "partner", "x-debug", true, false, false,
	    { ACAO, "https://partner.example.com", ACAM, "GET",
	    ACAH, "x-debug, content-type", "Vary", VARY, NULL } },
	{ "report_mode_answers_private_network_as_allowed", S_REPORT, NULL,
	    0, PREFLIGHT_PNA("https://app.example.com", "GET", NULL),
	    CORS_ALLOWED, CORS_REASON_PRIVATE_NETWORK, "app", "", true,
	    false, false, { ACAO, "https://app.example.com", ACAM, "GET",
	    ACAC, "true", ACMA, "600", ACAPN, "true", "Vary", VARY_PNA,
	    NULL } },
	{ "report_mode_reflects_huge_request_headers", S_REPORT, NULL, 0,
	    PREFLIGHT("https://partner.example.com", "GET", acrh_huge),
	    CORS_ALLOWED, CORS_REASON_HEADER, "partner", "", true, false,
	    false, { ACAO, "https://partner.example.com", ACAM, "GET",
	    ACAH, acrh_huge, "Vary", VARY, NULL } },
	{ "report_mode_leaves_allowed_preflight_unreported", S_REPORT, NULL,
	    0, PREFLIGHT("https://partner.example.com", "GET", NULL),
	    CORS_ALLOWED, CORS_REASON_NONE, "partner", "", false, false,
	    false, { ACAO, "https://partner.example.com", ACAM, "GET, POST",
	    "Vary", VARY, NULL } },
	{ "report_mode_unknown_origin_preflight_is_not_rejected", S_REPORT,
	    NULL, 0, PREFLIGHT("https://evil.example.com", "GET", NULL),
	    CORS_DENIED, CORS_REASON_ORIGIN, NULL, "", true, false, false,
	    { "Vary", VARY, NULL } },
	{ "report_mode_unknown_origin_request_is_not_rejected", S_REPORT,
	    NULL, 0, ACTUAL("GET", "https://evil.example.com"), CORS_DENIED,
	    CORS_REASON_ORIGIN, NULL, "", true, false, false, { NULL } },
};


static void
check_headers(const struct cors_case *c, const struct cors_result *r)
{
	size_t	 i, n = 0;

	while (c->headers[n * 2] != NULL) {
		n++;
	}
	cr_expect_eq(r->nheaders, n, "%s: %zu headers, expected %zu",
	    c->behaviour, r->nheaders, n);
	for (i = 0; i < n && i < r->nheaders; i++) {
		cr_expect_str_eq(r->headers[i].name, c->headers[i * 2],
		    "%s: header %zu", c->behaviour, i);
		cr_expect_str_eq(r->headers[i].value, c->headers[i * 2 + 1],
		    "%s: %s", c->behaviour, c->headers[i * 2]);
	}
}


static void
check_case(const struct cors_case *c)
{
	struct cors_result	 r;

	cr_assert_eq(cors_decide(&sets[c->set], c->indexes, c->nindexes,
	    &c->req, &r), 0, "%s", c->behaviour);
	cr_expect_eq(r.preflight, cors_is_preflight(&c->req));
	cr_expect_eq(r.decision, c->decision, "%s: decision %d",
	    c->behaviour, r.decision);
	cr_expect_eq(r.reason, c->reason, "%s: reason %d", c->behaviour,
	    r.reason);
	if (c->policy == NULL) {
		cr_expect_null(r.policy, "%s: policy", c->behaviour);
	} else {
		cr_expect_not_null(r.policy, "%s: policy", c->behaviour);
		if (r.policy != NULL) {
			cr_expect_str_eq(r.policy->name, c->policy);
		}
	}
	cr_expect_str_eq(r.denied, c->denied, "%s: denied", c->behaviour);
	cr_expect_eq(r.reported, c->reported, "%s: reported", c->behaviour);
	cr_expect_eq(r.reject, c->reject, "%s: reject", c->behaviour);
	cr_expect_eq(r.expose_all, c->expose_all, "%s: expose_all",
	    c->behaviour);
	check_headers(c, &r);
	cors_result_clear(&r);
}


Test(cors, decides_each_table_case)
{
	size_t	 i;

	for (i = 0; i < NELEM(cases); i++) {
		check_case(&cases[i]);
	}
}


Test(cors, preflight_needs_options_origin_and_request_method)
{
	const struct cors_request	 yes = PREFLIGHT("https://a.com",
	    "GET", NULL);
	const struct cors_request	 no_method = ACTUAL("OPTIONS",
	    "https://a.com");
	const struct cors_request	 no_origin = PREFLIGHT(NULL, "GET",
	    NULL);
	const struct cors_request	 get = { "GET", "https://a.com",
	    "GET", NULL, false };
	const struct cors_request	 lower = { "options", "https://a.com",
	    "GET", NULL, false };

	cr_expect(cors_is_preflight(&yes));
	cr_expect_not(cors_is_preflight(&no_method));
	cr_expect_not(cors_is_preflight(&no_origin));
	cr_expect_not(cors_is_preflight(&get));
	cr_expect_not(cors_is_preflight(&lower));
}


struct reason_case {
	const char	*behaviour;
	enum set_id	 set;
	const size_t	*indexes;
	size_t		 nindexes;
	struct cors_request req;
	const char	*text;
};

static const struct reason_case reason_cases[] = {
	{ "origin", S_MAIN, only_app_partner, 2,
	    ACTUAL("GET", "https://evil.com"),
	    "origin 'https://evil.com' is not allowed by any policy" },
	{ "method", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "PATCHY", NULL),
	    "method 'PATCHY' is not allowed by policy 'app'" },
	{ "header", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "GET", "x-debug"),
	    "header 'x-debug' is not allowed by policy 'app'" },
	{ "private network", S_MAIN, NULL, 0,
	    PREFLIGHT_PNA("https://app.example.com", "GET", NULL),
	    "private network access is not allowed by policy 'app'" },
	{ "huge headers", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "GET", acrh_huge),
	    "Access-Control-Request-Headers is longer than 8192 bytes" },
	{ "allowed", S_MAIN, NULL, 0,
	    ACTUAL("GET", "https://app.example.com"),
	    "allowed by policy 'app'" },
	{ "no origin", S_MAIN, NULL, 0, ACTUAL("GET", NULL),
	    "no Origin header" },
};

Test(cors, reason_text_names_what_was_refused)
{
	const struct reason_case	*c;
	struct cors_result		 r;
	char				 buf[256];
	size_t				 i;

	for (i = 0; i < NELEM(reason_cases); i++) {
		c = &reason_cases[i];
		cr_assert_eq(cors_decide(&sets[c->set], c->indexes,
		    c->nindexes, &c->req, &r), 0);
		cors_reason_text(&r, c->req.origin, buf, sizeof(buf));
		cr_expect_str_eq(buf, c->text, "%s", c->behaviour);
		cors_result_clear(&r);
	}
}


Test(cors, reason_text_is_bounded)
{
	const struct cors_request	 req = ACTUAL("GET", acrh_huge);
	struct cors_result		 r;
	char				 buf[1024], small[16];

	cr_assert_eq(cors_decide(&sets[S_MAIN], only_partner, 1, &req, &r),
	    0);
	cors_reason_text(&r, req.origin, buf, sizeof(buf));
	cr_expect_lt(strlen(buf), 320);
	cr_expect(strstr(buf, "...' is not allowed by any policy") != NULL,
	    "%s", buf);

	cors_reason_text(&r, req.origin, small, sizeof(small));
	cr_expect_str_eq(small, "origin 'aaaaaaa");
	cors_reason_text(&r, req.origin, NULL, 0);
	cors_result_clear(&r);
}


struct fix_case {
	const char	*behaviour;
	enum set_id	 set;
	const size_t	*indexes;
	size_t		 nindexes;
	struct cors_request req;
	bool		 add;
	const char	*change;	/* "" when no change can help */
	const char	*note;
};

static const struct fix_case fix_cases[] = {
	{ "unknown_origin_is_added_to_the_first_policy", S_MAIN,
	    only_app_partner, 2, ACTUAL("GET", "https://evil.com"), true,
	    "origins:\n  - https://evil.com", "" },
	{ "null_is_added_quoted_or_yaml_reads_no_value", S_MAIN,
	    only_app_partner, 2, ACTUAL("GET", "null"), true,
	    "origins:\n  - \"null\"", "" },
	{ "an_origin_with_a_path_gets_no_change", S_MAIN, only_app_partner,
	    2, ACTUAL("GET", "https://evil.com/x"), true, "",
	    "'https://evil.com/x' is not scheme://host[:port] as browsers "
	    "send an origin, so no origin pattern can list it; only a regex "
	    "origin could match it" },
	{ "a_pattern_sent_as_an_origin_gets_no_change", S_MAIN,
	    only_app_partner, 2, ACTUAL("GET", "http://localhost:*"), true,
	    "", "'http://localhost:*' is not scheme://host[:port] as "
	    "browsers send an origin, so no origin pattern can list it; "
	    "only a regex origin could match it" },
	{ "unlisted_method_is_appended", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "PATCHY", NULL), false,
	    "allow_methods: [GET, POST, PUT, DELETE, PATCH, PATCHY]", "" },
	{ "unlisted_header_is_appended", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "GET", "x-debug"), false,
	    "allow_headers: [Content-Type, Authorization, X-Requested-With, "
	    "x-debug]", "" },
	{ "private_network_is_switched_on", S_MAIN, NULL, 0,
	    PREFLIGHT_PNA("https://app.example.com", "GET", NULL), false,
	    "allow_private_network: true", "" },
	/* Refused before any list is read: listing the name, or "*",
	 * would change nothing, so there is no change to suggest. */
	{ "header_name_that_is_not_a_token_has_no_fix", S_MAIN, NULL, 0,
	    PREFLIGHT("https://app.example.com", "GET", "content-type, x(b"),
	    false, "", "no policy change allows it: 'x(b' is not a valid "
	    "header name" },
	{ "header_name_that_is_not_a_token_has_no_fix_under_any", S_MAIN,
	    NULL, 0, PREFLIGHT("http://localhost:1", "GET", "x(b"), false,
	    "", "no policy change allows it: 'x(b' is not a valid header "
	    "name" },
	{ "method_that_is_not_a_token_has_no_fix", S_MAIN, NULL, 0,
	    PREFLIGHT("http://localhost:1", "GE(T", NULL), false, "",
	    "no policy change allows it: 'GE(T' is not a valid method" },
	{ "over_long_request_headers_have_no_fix", S_MAIN, NULL, 0,
	    PREFLIGHT("http://localhost:1", "GET", acrh_huge), false, "",
	    "no policy change allows it: Access-Control-Request-Headers is "
	    "longer than 8192 bytes" },
	{ "report_mode_malformed_header_has_no_fix", S_REPORT, NULL, 0,
	    PREFLIGHT("https://app.example.com", "GET", "x(b"), false, "",
	    "no policy change allows it: 'x(b' is not a valid header "
	    "name" },
};

Test(cors, fix_text_suggests_a_change_only_where_one_helps)
{
	const struct fix_case	*c;
	struct cors_result	 r;
	struct cors_fix		 fix;
	size_t			 i;

	for (i = 0; i < NELEM(fix_cases); i++) {
		c = &fix_cases[i];
		cr_assert_eq(cors_decide(&sets[c->set], c->indexes,
		    c->nindexes, &c->req, &r), 0);
		cr_expect(r.decision == CORS_DENIED || r.reported, "%s",
		    c->behaviour);
		memset(&fix, 'x', sizeof(fix));
		cors_fix_text(&sets[c->set], c->indexes, c->nindexes, &r,
		    c->req.origin, &fix);
		cr_expect_eq(fix.add, c->add, "%s: add", c->behaviour);
		cr_expect_str_eq(fix.change, c->change, "%s: change",
		    c->behaviour);
		cr_expect_str_eq(fix.note, c->note, "%s: note", c->behaviour);
		cr_expect_not_null(strstr(fix.where, "policy '"), "%s: %s",
		    c->behaviour, fix.where);
		cors_result_clear(&r);
	}
}


Test(cors, result_clear_allows_reuse)
{
	const struct cors_request	 req = PREFLIGHT("http://localhost:1",
	    "GET", "x-a,x-b");
	struct cors_result		 r;

	cr_assert_eq(cors_decide(&sets[S_MAIN], NULL, 0, &req, &r), 0);
	cr_expect_not_null(r.owned);
	cors_result_clear(&r);
	cr_expect_null(r.owned);
	cr_expect_eq(r.nheaders, 0);
	cors_result_clear(&r);
	cors_result_clear(NULL);
	cr_assert_eq(cors_decide(&sets[S_MAIN], NULL, 0, &req, &r), 0);
	cr_expect_eq(r.decision, CORS_ALLOWED);
	cors_result_clear(&r);
}


Test(cors, values_point_at_the_request_not_copies)
{
	const struct cors_request	 req = PREFLIGHT("http://localhost:1",
	    "GET", NULL);
	struct cors_result		 r;

	cr_assert_eq(cors_decide(&sets[S_MAIN], NULL, 0, &req, &r), 0);
	cr_expect_eq(r.headers[0].value, req.origin);
	cr_expect_eq(r.headers[1].value, req.request_method);
	cors_result_clear(&r);
}


struct name_case {
	const char	*name;
	bool		 expected;
};

static const struct name_case name_cases[] = {
	{ "Access-Control-Allow-Origin", true },
	{ "access-control-allow-credentials", true },
	{ "ACCESS-CONTROL-MAX-AGE", true },
	{ "Access-Control-", true },
	{ "Access-Control", false },
	{ "Vary", false },
	{ "X-Access-Control-Allow-Origin", false },
	{ "", false },
	{ NULL, false },
};

Test(cors, cors_header_names_are_recognised_in_any_case)
{
	size_t	 i;

	for (i = 0; i < NELEM(name_cases); i++) {
		cr_expect_eq(cors_is_cors_header(name_cases[i].name),
		    name_cases[i].expected, "%s", name_cases[i].name);
	}
}
