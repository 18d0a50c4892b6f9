/*
 * `corsproxy explain`.
 *
 * It loads the configuration exactly as the server would and runs the
 * same CORS decision on a request described by flags, then prints the
 * route, the policy and where it is defined, the verdict with its
 * reason, the exact CORS headers, and for a denial the YAML change
 * that would allow it.  A request a browser would preflight (a method
 * other than GET, HEAD or POST, a header that is not safelisted, or
 * private-network access) is explained as its preflight first.
 *
 * In report mode nothing is denied, and the output says what the proxy
 * does instead: a would-be denial on a matched policy is answered as
 * allowed, while an origin no policy matches is left to the backend,
 * since there is no policy to answer with.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "cors.h"
#include "explain.h"

#define EXPLAIN_MAX_HEADERS	32

struct explain_request {
	const char	*config_file;
	const char	*policies_file;
	const char	*origin;
	const char	*method;
	const char	*path;
	const char	*host;		/* as the Host header; NULL: none */
	const char	*headers[EXPLAIN_MAX_HEADERS];
	size_t		 nheaders;
	bool		 private_network;
};

/* What the proxy does with one request, from best to worst. */
enum explain_outcome {
	EXPLAIN_ALLOWED,
	EXPLAIN_REPORTED,	/* report mode: answered as allowed */
	EXPLAIN_UNTOUCHED,	/* report mode: left to the backend */
	EXPLAIN_DENIED
};

/* The line after "preflight:" or "request:". */
static const char *const explain_step_words[] = {
	[EXPLAIN_ALLOWED] = "allowed",
	[EXPLAIN_REPORTED] = "would be denied (report mode: answered as "
	    "allowed)",
	[EXPLAIN_UNTOUCHED] = "would be denied (report mode: forwarded to "
	    "the backend, no CORS added)",
	[EXPLAIN_DENIED] = "denied"
};

/* The line after "verdict:", for the worst step. */
static const char *const explain_verdict_words[] = {
	[EXPLAIN_ALLOWED] = "allowed",
	[EXPLAIN_REPORTED] = "allowed (report mode: enforce mode would deny "
	    "it)",
	[EXPLAIN_UNTOUCHED] = "left to the backend (report mode: enforce "
	    "mode would deny it)",
	[EXPLAIN_DENIED] = "denied"
};

static const char explain_usage[] =
"usage: corsproxy explain [-c FILE] [-p FILE] --origin ORIGIN\n"
"                 [--method M] [--header NAME]... [--path PATH]\n"
"                 [--host HOST] [--private-network]\n";


static int
explain_usage_error(const char *what, const char *word)
{
	fprintf(stderr, "corsproxy explain: %s '%s'\n%s", what, word,
	    explain_usage);
	return (2);
}


static int
explain_parse(struct explain_request *x, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "policies",		required_argument,	NULL, 'p' },
		{ "origin",		required_argument,	NULL, 'O' },
		{ "method",		required_argument,	NULL, 'm' },
		{ "header",		required_argument,	NULL, 'H' },
		{ "path",		required_argument,	NULL, 'P' },
		{ "host",		required_argument,	NULL, 'h' },
		{ "private-network",	no_argument,		NULL, 'N' },
		{ NULL,			0,			NULL, 0 }
	};
	int				 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:p:", longopts, NULL)) != -1) {
		char		 flag[3] = { '-', (char)optopt, '\0' };
		/* For "-xq" getopt names the letter, not the word. */
		const char	*word = ch == '?' && optopt != 0 ? flag :
				    argv[optind - 1];

		switch (ch) {
		case 'c': x->config_file = optarg; break;
		case 'p': x->policies_file = optarg; break;
		case 'O': x->origin = optarg; break;
		case 'm': x->method = optarg; break;
		case 'P': x->path = optarg; break;
		case 'h': x->host = optarg; break;
		case 'N': x->private_network = true; break;
		case 'H':
			if (x->nheaders == EXPLAIN_MAX_HEADERS) {
				return (explain_usage_error("too many headers",
				    optarg));
			}
			x->headers[x->nheaders++] = optarg;
			break;
		case ':':
			return (explain_usage_error("missing value for", word));
		default:
			return (explain_usage_error("unknown option", word));
		}
	}
	if (optind < argc) {
		return (explain_usage_error("unexpected argument",
		    argv[optind]));
	}
	if (x->origin == NULL) {
		fprintf(stderr, "corsproxy explain: --origin is required\n%s",
		    explain_usage);
		return (2);
	}
	return (0);
}


/* A browser preflights a method other than GET, HEAD and POST, any
 * header beyond Accept, Accept-Language and Content-Language (a named
 * Content-Type counts, as for JSON), and private-network access. */
static bool
explain_needs_preflight(const struct explain_request *x)
{
	static const char *const safelisted[] = {
		"Accept", "Accept-Language", "Content-Language", NULL
	};
	size_t	 i, j;

	if (strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0 &&
	    strcmp(x->method, "POST") != 0) {
		return (true);
	}
	for (i = 0; i < x->nheaders; i++) {
		for (j = 0; safelisted[j] != NULL; j++) {
			if (strcasecmp(x->headers[i], safelisted[j]) == 0) {
				break;
			}
		}
		if (safelisted[j] == NULL) {
			return (true);
		}
	}
	return (x->private_network);
}


static void
explain_headers(const struct cors_result *r, bool actual)
{
	size_t	 i;

	for (i = 0; i < r->nheaders; i++) {
		printf("  %s: %s\n", r->headers[i].name, r->headers[i].value);
	}
	if (r->expose_all) {
		printf("  Access-Control-Expose-Headers: (the names of the "
		    "response's headers)\n");
	}
	if (actual) {
		printf("  Vary: Origin (merged into the backend's Vary)\n");
	}
}


static void
explain_route(const struct config *c, const struct config_route *r)
{
	const struct policy_set	*ps = &c->policies;
	size_t			 i;

	printf("route:    %s%s%s -> upstream %s", r->host ? r->host : "",
	    r->path, r->preflight == CONFIG_PREFLIGHT_FORWARD ?
	    " (preflights forwarded)" : "", c->upstreams[r->upstream].name);
	if (r->mark.line > 0) {
		printf(" (%s:%d:%d)", r->mark.file, r->mark.line,
		    r->mark.column);
	}
	printf("\npolicies:");
	for (i = 0; i < (r->all_policies ? ps->count : r->npolicies); i++) {
		printf(" %s", ps->policies[r->all_policies ? i :
		    r->policies[i]].name);
	}
	printf("%s%s\n", ps->count == 0 ? " none" : "",
	    ps->mode == POLICY_REPORT ? " (report only)" : "");
}


static void
explain_denial(const struct config *c, const struct config_route *route,
    const struct cors_result *r, const char *origin)
{
	struct cors_fix	 fix;
	const char	*line, *next;

	cors_fix_text(&c->policies, route->all_policies ? NULL :
	    route->policies, route->npolicies, r, origin, &fix);
	if (fix.change[0] == '\0') {
		printf("%s\n", fix.note);
		return;
	}
	printf("to allow it, %s %s:\n", fix.add ? "add to" : "set in",
	    fix.where);
	for (line = fix.change; line != NULL; line = next) {
		next = strchr(line, '\n');
		printf("    %.*s\n", next != NULL ? (int)(next - line) :
		    (int)strlen(line), line);
		next = next != NULL ? next + 1 : NULL;
	}
}


/*
 * In report mode an origin no policy matches stays CORS_DENIED but is
 * forwarded as if the proxy added no CORS; a would-be denial on a
 * matched policy is CORS_ALLOWED, answered as allowed.
 */
static enum explain_outcome
explain_outcome(const struct cors_result *r)
{
	if (r->reported) {
		return (r->decision == CORS_DENIED ? EXPLAIN_UNTOUCHED :
		    EXPLAIN_REPORTED);
	}
	return (r->decision == CORS_DENIED ? EXPLAIN_DENIED : EXPLAIN_ALLOWED);
}


/* The response the client gets, with the headers the proxy adds. */
static void
explain_response(const struct cors_result *r, enum explain_outcome o)
{
	if (o == EXPLAIN_UNTOUCHED) {
		/* The proxy neither adds nor strips CORS headers here, so
		 * the backend's own answer decides what the browser does. */
		if (r->preflight) {
			printf("response: the backend's answer to the "
			    "preflight, passed on as sent\n");
			return;
		}
		printf("response: the backend's, with its own CORS headers "
		    "kept and none added\n");
		printf("  Vary: Origin (merged into the backend's Vary)\n");
		return;
	}
	if (r->preflight) {
		printf("response: %s\n", o == EXPLAIN_DENIED ?
		    "403 Forbidden" : "204 No Content");
	} else if (o == EXPLAIN_DENIED) {
		printf("response: %s\n", r->reject ? "403 Forbidden, the "
		    "backend is not contacted" : "forwarded without CORS "
		    "headers: the browser hides it from the page");
	} else {
		printf("response: the backend's, with\n");
	}
	explain_headers(r, !r->preflight);
}


/* Decides one request and prints it; returns what the proxy does, or
 * EXPLAIN_DENIED when out of memory. */
static enum explain_outcome
explain_one(const struct config *c, const struct config_route *route,
    const struct cors_request *req, const char *label)
{
	struct cors_result	 r;
	enum explain_outcome	 o;
	char			 reason[512];

	memset(&r, 0, sizeof(r));
	if (cors_decide(&c->policies, route->all_policies ? NULL :
	    route->policies, route->npolicies, req, &r) == -1) {
		fprintf(stderr, "corsproxy explain: out of memory\n");
		return (EXPLAIN_DENIED);
	}
	o = explain_outcome(&r);
	cors_reason_text(&r, req->origin, reason, sizeof(reason));
	printf("\n%-9s %s\n", label, explain_step_words[o]);
	if (r.policy != NULL && r.policy->mark.line > 0) {
		printf("policy:   %s (%s:%d:%d)\n", r.policy->name,
		    r.policy->mark.file, r.policy->mark.line,
		    r.policy->mark.column);
	} else if (r.policy != NULL) {
		printf("policy:   %s (built in)\n", r.policy->name);
	}
	printf("reason:   %s\n", reason);
	explain_response(&r, o);
	if (o != EXPLAIN_ALLOWED) {
		explain_denial(c, route, &r, req->origin);
	}
	cors_result_clear(&r);
	return (o);
}


static char *
explain_join_headers(const struct explain_request *x)
{
	size_t	 i, len = 1;
	char	*joined;

	for (i = 0; i < x->nheaders; i++) {
		len += strlen(x->headers[i]) + 1;
	}
	if ((joined = calloc(1, len)) == NULL) {
		return (NULL);
	}
	for (i = 0; i < x->nheaders; i++) {
		strcat(joined, x->headers[i]);
		if (i + 1 < x->nheaders) {
			strcat(joined, ",");
		}
	}
	return (joined);
}


/* Explains the request, its preflight first where a browser sends one;
 * returns false when the proxy denies it. */
static bool
explain_run(const struct config *c, const struct explain_request *x)
{
	const struct config_route	*route;
	struct cors_request		 req;
	char				*joined = NULL;
	enum explain_outcome		 o, worst = EXPLAIN_ALLOWED;

	route = config_route_match(c, x->path, x->host);
	printf("request:  %s %s%s%s%s from %s\n", x->method, x->path,
	    x->host != NULL ? " (Host: " : "", x->host != NULL ? x->host : "",
	    x->host != NULL ? ")" : "", x->origin);
	explain_route(c, route);
	memset(&req, 0, sizeof(req));
	req.origin = x->origin;
	if (explain_needs_preflight(x)) {
		joined = explain_join_headers(x);
		req.method = "OPTIONS";
		req.request_method = x->method;
		req.request_headers = x->nheaders > 0 ? joined : NULL;
		req.request_private_network = x->private_network;
		if (route->preflight == CONFIG_PREFLIGHT_FORWARD) {
			printf("\npreflight: forwarded to the backend, which "
			    "answers it\n");
		} else {
			worst = explain_one(c, route, &req, "preflight:");
		}
		free(joined);
		memset(&req, 0, sizeof(req));
		req.origin = x->origin;
	}
	/* A denied preflight keeps the browser from sending the request. */
	if (worst != EXPLAIN_DENIED) {
		req.method = x->method;
		o = explain_one(c, route, &req, "request:");
		worst = o > worst ? o : worst;
	}
	printf("\nverdict:  %s\n", explain_verdict_words[worst]);
	return (worst != EXPLAIN_DENIED);
}


int
explain_main(int argc, char **argv)
{
	struct explain_request	 x;
	struct config_overrides	 ov;
	struct diag		 diag;
	struct config		*c;
	int			 rc;

	memset(&x, 0, sizeof(x));
	memset(&ov, 0, sizeof(ov));
	memset(&diag, 0, sizeof(diag));
	x.method = "GET";
	x.path = "/";
	if ((rc = explain_parse(&x, argc, argv)) != 0) {
		return (rc);
	}
	ov.policies_file = x.policies_file;
	c = config_load(x.config_file, &ov, &diag);
	diag_print(&diag, stderr);
	diag_clear(&diag);
	if (c == NULL) {
		fprintf(stderr, "corsproxy explain: the configuration is not "
		    "valid\n");
		return (1);
	}
	rc = explain_run(c, &x) ? 0 : 1;
	config_free(c);
	return (rc);
}
