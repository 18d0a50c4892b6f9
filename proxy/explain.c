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
	const char	*headers[EXPLAIN_MAX_HEADERS];
	size_t		 nheaders;
	bool		 private_network;
};

static const char explain_usage[] =
"usage: corsproxy explain [-c FILE] [-p FILE] --origin ORIGIN\n"
"                 [--method M] [--header NAME]... [--path PATH]\n"
"                 [--private-network]\n";


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
	printf("to allow it, %s %s:\n", fix.add ? "add to" : "set in",
	    fix.where);
	for (line = fix.change; line != NULL; line = next) {
		next = strchr(line, '\n');
		printf("    %.*s\n", next != NULL ? (int)(next - line) :
		    (int)strlen(line), line);
		next = next != NULL ? next + 1 : NULL;
	}
}


/* Decides one request and prints it; returns true when allowed. */
static bool
explain_one(const struct config *c, const struct config_route *route,
    const struct cors_request *req, const char *label)
{
	struct cors_result	 r;
	char			 reason[512];
	bool			 allowed;

	memset(&r, 0, sizeof(r));
	if (cors_decide(&c->policies, route->all_policies ? NULL :
	    route->policies, route->npolicies, req, &r) == -1) {
		fprintf(stderr, "corsproxy explain: out of memory\n");
		return (false);
	}
	allowed = r.decision == CORS_ALLOWED;
	cors_reason_text(&r, req->origin, reason, sizeof(reason));
	printf("\n%-9s %s\n", label, allowed ? "allowed" : "denied");
	if (r.policy != NULL && r.policy->mark.line > 0) {
		printf("policy:   %s (%s:%d:%d)\n", r.policy->name,
		    r.policy->mark.file, r.policy->mark.line,
		    r.policy->mark.column);
	} else if (r.policy != NULL) {
		printf("policy:   %s (built in)\n", r.policy->name);
	}
	printf("reason:   %s\n", reason);
	if (r.preflight) {
		printf("response: %s\n", allowed ? "204 No Content" :
		    "403 Forbidden");
	} else if (!allowed) {
		printf("response: %s\n", r.reject ? "403 Forbidden, the "
		    "backend is not contacted" : "forwarded without CORS "
		    "headers: the browser hides it from the page");
	} else {
		printf("response: the backend's, with\n");
	}
	explain_headers(&r, !r.preflight);
	if (!allowed || r.reported) {
		explain_denial(c, route, &r, req->origin);
	}
	allowed = allowed || r.reported;
	cors_result_clear(&r);
	return (allowed);
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


static bool
explain_run(const struct config *c, const struct explain_request *x)
{
	const struct config_route	*route;
	struct cors_request		 req;
	char				*joined = NULL;
	bool				 ok = true;

	route = config_route_match(c, x->path, NULL);
	printf("request:  %s %s from %s\n", x->method, x->path, x->origin);
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
			ok = explain_one(c, route, &req, "preflight:");
		}
		free(joined);
		memset(&req, 0, sizeof(req));
		req.origin = x->origin;
	}
	if (ok) {
		req.method = x->method;
		ok = explain_one(c, route, &req, "request:");
	}
	printf("\nverdict:  %s\n", ok ? "allowed" : "denied");
	return (ok);
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
