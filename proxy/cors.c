/*
 * The CORS decision: which policy an Origin falls under, whether a
 * preflight asks for more than that policy allows, and the exact
 * headers the response gets, in the order they are sent.
 *
 * The header values point at the policy's precomputed strings or at
 * the request's own strings wherever possible.  The Max-Age number is
 * written into the result itself; a reflected list of header names,
 * the only value that needs an allocation, goes into
 * cors_result.owned.
 *
 * Access-Control-Request-Headers is attacker-controlled and may be
 * long, so it is walked in place: the names are never copied out
 * except into the reflected list, and a value over
 * CORS_REQUEST_HEADERS_MAX is refused before it is walked at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cors.h"
#include "token.h"

#define CORS_VARY	"Origin, Access-Control-Request-Method, " \
			    "Access-Control-Request-Headers"
#define CORS_VARY_PNA	CORS_VARY ", Access-Control-Request-Private-Network"

/* The longest origin a reason quotes; logs need no more to tell. */
#define CORS_REASON_ORIGIN_MAX	256

/* What a walk of Access-Control-Request-Headers found. */
struct cors_names {
	bool		 overlong;	/* not walked */
	size_t		 count;
	size_t		 joined_len;	/* names joined with ", " */
};


bool
cors_is_preflight(const struct cors_request *req)
{
	return req->method != NULL && strcmp(req->method, "OPTIONS") == 0 &&
	    req->origin != NULL && req->request_method != NULL;
}


bool
cors_is_cors_header(const char *name)
{
	return name != NULL && strncasecmp(name, "access-control-", 15) == 0;
}


void
cors_result_clear(struct cors_result *out)
{
	if (out == NULL) {
		return;
	}
	free(out->owned);
	memset(out, 0, sizeof(*out));
}


/* A NULL value (a list the loader left unjoined) adds nothing. */
static void
cors_add(struct cors_result *out, const char *name, const char *value)
{
	if (value == NULL || out->nheaders == CORS_MAX_HEADERS) {
		return;
	}
	out->headers[out->nheaders].name = name;
	out->headers[out->nheaders].value = value;
	out->nheaders++;
}


static void
cors_set_reason(struct cors_result *out, enum cors_reason reason,
    const char *name, size_t len)
{
	if (out->reason != CORS_REASON_NONE) {
		return;
	}
	out->reason = reason;
	if (len >= sizeof(out->denied)) {
		len = sizeof(out->denied) - 1;
	}
	memcpy(out->denied, name, len);
	out->denied[len] = '\0';
}


/*
 * Steps to the next name of a comma-separated list, skipping spaces,
 * tabs and empty elements.  Returns false at the end of the list.
 */
static bool
cors_next_name(const char **cursor, const char **name, size_t *len)
{
	const char	*s = *cursor + strspn(*cursor, " \t,");
	const char	*end;

	if (*s == '\0') {
		*cursor = s;
		return false;
	}
	end = s + strcspn(s, ",");
	*cursor = end;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
		end--;
	}
	*name = s;
	*len = end - s;
	return true;
}


static bool
cors_list_has(const struct policy_list *list, const char *name,
    size_t len, bool nocase)
{
	size_t	 i;

	for (i = 0; i < list->count; i++) {
		if (strlen(list->items[i]) != len) {
			continue;
		}
		if (nocase ? strncasecmp(list->items[i], name, len) == 0 :
		    memcmp(list->items[i], name, len) == 0) {
			return true;
		}
	}
	return false;
}


/*
 * Finds the first candidate policy with a pattern matching origin, in
 * the order of indexes (of the whole set when indexes is NULL).
 */
static const struct policy *
cors_find_policy(const struct policy_set *set, const size_t *indexes,
    size_t nindexes, const char *origin,
    const struct origin_pattern **pattern)
{
	const struct policy	*p;
	size_t			 i, j, n, len = strlen(origin);

	n = indexes != NULL ? nindexes : set->count;
	for (i = 0; i < n; i++) {
		j = indexes != NULL ? indexes[i] : i;
		if (j >= set->count) {
			continue;
		}
		p = &set->policies[j];
		for (*pattern = p->origins;
		    *pattern < p->origins + p->norigins; (*pattern)++) {
			if (origin_pattern_match(*pattern, origin, len)) {
				return p;
			}
		}
	}
	*pattern = NULL;
	return NULL;
}


/*
 * With no matching policy there is no on_denied to read.  Rejecting
 * needs every candidate to ask for it: one policy that forwards is
 * enough to show the backend is meant to see such requests, and an
 * empty candidate list has nobody asking.
 */
static bool
cors_all_reject(const struct policy_set *set, const size_t *indexes,
    size_t nindexes)
{
	size_t	 i, j, n, seen = 0;

	n = indexes != NULL ? nindexes : set->count;
	for (i = 0; i < n; i++) {
		j = indexes != NULL ? indexes[i] : i;
		if (j >= set->count) {
			continue;
		}
		if (set->policies[j].on_denied != POLICY_DENIED_REJECT) {
			return false;
		}
		seen++;
	}
	return seen > 0;
}


static const char *
cors_vary(const struct policy *p, const struct cors_request *req)
{
	if (req->request_private_network ||
	    (p != NULL && p->allow_private_network)) {
		return CORS_VARY_PNA;
	}
	return CORS_VARY;
}


/* "*" is only safe to send where no credentials ride along. */
static const char *
cors_allow_origin(const struct cors_result *out,
    const struct origin_pattern *pat, const struct cors_request *req)
{
	if (pat->kind == ORIGIN_ANY && !out->policy->allow_credentials) {
		return "*";
	}
	return req->origin;
}


static void
cors_deny_origin(const struct policy_set *set, const size_t *indexes,
    size_t nindexes, const struct cors_request *req,
    struct cors_result *out)
{
	out->decision = CORS_DENIED;
	out->reason = CORS_REASON_ORIGIN;
	if (set->mode == POLICY_REPORT) {
		out->reported = true;
	} else {
		out->reject = cors_all_reject(set, indexes, nindexes);
	}
	if (out->preflight) {
		cors_add(out, "Vary", cors_vary(NULL, req));
	}
}


/*
 * An actual request whose origin matched.  Expose "*" is a wildcard
 * only without credentials; with them a browser reads it as a header
 * called "*", so the proxy names the response's headers instead.
 */
static int
cors_actual(struct cors_result *out, const struct origin_pattern *pat,
    const struct cors_request *req)
{
	const struct policy_list	*expose = &out->policy->expose_headers;

	out->decision = CORS_ALLOWED;
	cors_add(out, "Access-Control-Allow-Origin",
	    cors_allow_origin(out, pat, req));
	if (out->policy->allow_credentials) {
		cors_add(out, "Access-Control-Allow-Credentials", "true");
	}
	if (expose->any && out->policy->allow_credentials) {
		out->expose_all = true;
	} else if (expose->any) {
		cors_add(out, "Access-Control-Expose-Headers", "*");
	} else if (expose->count > 0) {
		cors_add(out, "Access-Control-Expose-Headers",
		    expose->joined);
	}
	return 0;
}


/* Walks the requested header names, validating nothing but length. */
static void
cors_count_names(const struct cors_request *req, struct cors_names *names)
{
	const char	*cursor = req->request_headers, *name;
	size_t		 len;

	memset(names, 0, sizeof(*names));
	if (cursor == NULL) {
		return;
	}
	if (strnlen(cursor, CORS_REQUEST_HEADERS_MAX + 1) >
	    CORS_REQUEST_HEADERS_MAX) {
		names->overlong = true;
		return;
	}
	while (cors_next_name(&cursor, &name, &len)) {
		names->joined_len += len + (names->count > 0 ? 2 : 0);
		names->count++;
	}
}


static void
cors_check_method(const struct policy *p, const struct cors_request *req,
    struct cors_result *out)
{
	const char	*m = req->request_method;
	size_t		 len = strlen(m);

	/* Methods are case-sensitive: "patch" is not "PATCH". */
	if (!token_valid(m, len) || (!p->allow_methods.any &&
	    !cors_list_has(&p->allow_methods, m, len, false))) {
		cors_set_reason(out, CORS_REASON_METHOD, m, len);
	}
}


static void
cors_check_headers(const struct policy *p, const struct cors_request *req,
    const struct cors_names *names, struct cors_result *out)
{
	const char	*cursor = req->request_headers, *name;
	size_t		 len;

	if (names->overlong) {
		cors_set_reason(out, CORS_REASON_HEADER, "", 0);
		return;
	}
	while (names->count > 0 && cors_next_name(&cursor, &name, &len)) {
		if (!token_valid(name, len) || (!p->allow_headers.any &&
		    !cors_list_has(&p->allow_headers, name, len, true))) {
			cors_set_reason(out, CORS_REASON_HEADER, name, len);
			return;
		}
	}
}


/* Joins the requested names with ", " into buf, which has room. */
static void
cors_join_names(const struct cors_request *req, char *buf)
{
	const char	*cursor = req->request_headers, *name;
	size_t		 len;
	char		*w = buf;

	while (cors_next_name(&cursor, &name, &len)) {
		if (w != buf) {
			memcpy(w, ", ", 2);
			w += 2;
		}
		memcpy(w, name, len);
		w += len;
	}
	*w = '\0';
}


/* Writes the Max-Age value into out->max_age, without printf: this
 * runs on every preflight.  Returns it, or NULL when not sent. */
static const char *
cors_max_age(struct cors_result *out)
{
	char		 digits[sizeof(out->max_age)];
	size_t		 i = sizeof(digits) - 1;
	unsigned long	 n;

	if (out->policy->max_age < 0) {
		return NULL;
	}
	n = (unsigned long)out->policy->max_age;
	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	memcpy(out->max_age, digits + i, sizeof(digits) - i);
	return out->max_age;
}


/* Builds the reflected list of requested header names, the one value
 * a preflight may need allocated.  Returns 0, or -1 when out of
 * memory. */
static int
cors_reflect_names(struct cors_result *out, const struct cors_request *req,
    const struct cors_names *names, const char **list)
{
	*list = NULL;
	if (names->count == 0) {
		return 0;
	}
	if ((out->owned = malloc(names->joined_len + 1)) == NULL) {
		return -1;
	}
	cors_join_names(req, out->owned);
	*list = out->owned;
	return 0;
}


/*
 * The headers of a preflight answered as allowed.  In report mode a
 * would-be denial is answered the same way, reflecting what was asked
 * so the browser proceeds.
 */
static int
cors_allow_preflight(struct cors_result *out,
    const struct origin_pattern *pat, const struct cors_request *req,
    const struct cors_names *names)
{
	const struct policy	*p = out->policy;
	const char		*age, *list, *value;
	bool			 rm, rh, pna;

	rm = p->allow_methods.any || out->reported;
	rh = p->allow_headers.any || out->reported;
	pna = req->request_private_network &&
	    (p->allow_private_network || out->reported);
	list = NULL;
	if (rh && cors_reflect_names(out, req, names, &list) == -1) {
		return -1;
	}
	age = cors_max_age(out);

	out->decision = CORS_ALLOWED;
	cors_add(out, "Access-Control-Allow-Origin",
	    cors_allow_origin(out, pat, req));
	cors_add(out, "Access-Control-Allow-Methods",
	    rm ? req->request_method : p->allow_methods.joined);
	if (names->count > 0 || names->overlong) {
		value = names->overlong ? req->request_headers : list;
		cors_add(out, "Access-Control-Allow-Headers",
		    rh ? value : p->allow_headers.joined);
	}
	if (p->allow_credentials) {
		cors_add(out, "Access-Control-Allow-Credentials", "true");
	}
	cors_add(out, "Access-Control-Max-Age", age);
	if (pna) {
		cors_add(out, "Access-Control-Allow-Private-Network", "true");
	}
	cors_add(out, "Vary", cors_vary(p, req));
	return 0;
}


static int
cors_preflight(const struct policy_set *set, struct cors_result *out,
    const struct origin_pattern *pat, const struct cors_request *req)
{
	const struct policy	*p = out->policy;
	struct cors_names	 names;

	cors_count_names(req, &names);
	cors_check_method(p, req, out);
	cors_check_headers(p, req, &names, out);
	if (req->request_private_network && !p->allow_private_network) {
		cors_set_reason(out, CORS_REASON_PRIVATE_NETWORK, "", 0);
	}

	if (out->reason != CORS_REASON_NONE && set->mode == POLICY_REPORT) {
		out->reported = true;
	} else if (out->reason != CORS_REASON_NONE) {
		out->decision = CORS_DENIED;
		cors_add(out, "Vary", cors_vary(p, req));
		return 0;
	}
	return cors_allow_preflight(out, pat, req, &names);
}


int
cors_decide(const struct policy_set *set, const size_t *indexes,
    size_t nindexes, const struct cors_request *req,
    struct cors_result *out)
{
	const struct origin_pattern	*pat;

	memset(out, 0, sizeof(*out));
	out->preflight = cors_is_preflight(req);
	if (req->origin == NULL) {
		out->decision = CORS_NO_ORIGIN;
		return 0;
	}

	out->policy = cors_find_policy(set, indexes, nindexes, req->origin,
	    &pat);
	if (out->policy == NULL) {
		cors_deny_origin(set, indexes, nindexes, req, out);
		return 0;
	}
	if (!out->preflight) {
		return cors_actual(out, pat, req);
	}
	if (cors_preflight(set, out, pat, req) == -1) {
		cors_result_clear(out);
		return -1;
	}
	return 0;
}


static void
cors_header_reason(const struct cors_result *r, const char *name,
    char *buf, size_t len)
{
	if (r->denied[0] == '\0') {
		snprintf(buf, len, "Access-Control-Request-Headers is longer "
		    "than %d bytes", CORS_REQUEST_HEADERS_MAX);
	} else if (!token_valid(r->denied, strlen(r->denied))) {
		snprintf(buf, len, "'%s' in Access-Control-Request-Headers "
		    "is not a valid header name", r->denied);
	} else {
		snprintf(buf, len, "header '%s' is not allowed by policy "
		    "'%s'", r->denied, name);
	}
}


static void
cors_allowed_reason(const struct cors_result *r, const char *name,
    char *buf, size_t len)
{
	if (r->decision == CORS_NO_ORIGIN) {
		snprintf(buf, len, "no Origin header");
	} else {
		snprintf(buf, len, "allowed by policy '%s'", name);
	}
}


void
cors_reason_text(const struct cors_result *r, const char *origin,
    char *buf, size_t len)
{
	const char	*name = r->policy != NULL ? r->policy->name : "";
	int		 olen;

	if (buf == NULL || len == 0) {
		return;
	}
	if (origin == NULL) {
		origin = "";
	}
	olen = (int)strnlen(origin, CORS_REASON_ORIGIN_MAX);

	switch (r->reason) {
	case CORS_REASON_ORIGIN:
		snprintf(buf, len, "origin '%.*s%s' is not allowed by any "
		    "policy", olen, origin,
		    origin[olen] != '\0' ? "..." : "");
		break;
	case CORS_REASON_METHOD:
		snprintf(buf, len, "method '%s' is not allowed by policy "
		    "'%s'", r->denied, name);
		break;
	case CORS_REASON_HEADER:
		cors_header_reason(r, name, buf, len);
		break;
	case CORS_REASON_PRIVATE_NETWORK:
		snprintf(buf, len, "private network access is not allowed "
		    "by policy '%s'", name);
		break;
	default:
		cors_allowed_reason(r, name, buf, len);
		break;
	}
}


/* The policy a fix for an unmatched origin goes into: the first one
 * the route consults, or NULL when it consults none. */
static const struct policy *
cors_fix_policy(const struct policy_set *set, const size_t *indexes,
    size_t nindexes)
{
	if (indexes == NULL) {
		return (set->count > 0 ? &set->policies[0] : NULL);
	}
	if (nindexes > 0 && indexes[0] < set->count) {
		return (&set->policies[indexes[0]]);
	}
	return (NULL);
}


/* A list with one more item, written as a YAML flow sequence. */
static void
cors_fix_list(char *buf, size_t len, const char *key,
    const struct policy_list *list, const char *item)
{
	if (list->any || item[0] == '\0') {
		snprintf(buf, len, "%s: \"*\"", key);
	} else if (list->count == 0) {
		snprintf(buf, len, "%s: [%s]", key, item);
	} else {
		snprintf(buf, len, "%s: [%s, %s]", key, list->joined, item);
	}
}


/*
 * A method or header name that is not a token, and an
 * Access-Control-Request-Headers too long to read, are refused before
 * any list is consulted, so no policy change would let them through:
 * listing the name, or "*", changes nothing.  Writes why into the
 * note and returns true for such a request.
 */
/* An Origin that no origin pattern can list: not scheme://host[:port]
 * as browsers serialize one, or itself a pattern ("*", "host:*"). */
static bool
cors_fix_bad_origin(const char *origin, int olen, struct cors_fix *fix)
{
	struct origin_pattern	 o;
	char			 err[256];
	bool			 bad;

	memset(&o, 0, sizeof(o));
	bad = origin_pattern_parse(&o, origin, err, sizeof(err)) == -1 ||
	    (o.kind != ORIGIN_EXACT && o.kind != ORIGIN_NULL) ||
	    o.port == ORIGIN_PORT_ANY;
	origin_pattern_clear(&o);
	if (bad) {
		snprintf(fix->note, sizeof(fix->note), "'%.*s' is not "
		    "scheme://host[:port] as browsers send an origin, so no "
		    "origin pattern can list it; only a regex origin could "
		    "match it", olen, origin);
	}
	return bad;
}


static bool
cors_fix_malformed(const struct cors_result *r, const char *origin,
    int olen, struct cors_fix *fix)
{
	const char	*what;

	if (r->reason == CORS_REASON_ORIGIN) {
		return cors_fix_bad_origin(origin, olen, fix);
	}

	if (r->reason == CORS_REASON_HEADER && r->denied[0] == '\0') {
		snprintf(fix->note, sizeof(fix->note), "no policy change "
		    "allows it: Access-Control-Request-Headers is longer "
		    "than %d bytes", CORS_REQUEST_HEADERS_MAX);
		return true;
	}
	if (r->reason == CORS_REASON_HEADER) {
		what = "header name";
	} else if (r->reason == CORS_REASON_METHOD) {
		what = "method";
	} else {
		return false;
	}
	if (token_valid(r->denied, strlen(r->denied))) {
		return false;
	}
	snprintf(fix->note, sizeof(fix->note), "no policy change allows "
	    "it: '%s' is not a valid %s", r->denied, what);
	return true;
}


void
cors_fix_text(const struct policy_set *set, const size_t *indexes,
    size_t nindexes, const struct cors_result *r, const char *origin,
    struct cors_fix *fix)
{
	const struct policy	*p = r->policy;
	int			 olen;

	origin = origin != NULL ? origin : "";
	olen = (int)strnlen(origin, CORS_REASON_ORIGIN_MAX);
	if (r->reason == CORS_REASON_ORIGIN) {
		p = cors_fix_policy(set, indexes, nindexes);
	}
	fix->policy = p;
	fix->add = r->reason == CORS_REASON_ORIGIN;
	fix->note[0] = '\0';
	if (p != NULL && p->mark.line == 0) {
		snprintf(fix->where, sizeof(fix->where), "policy '%s' (built "
		    "in: pass -o, or write a policy file and pass -p)",
		    p->name);
	} else if (p != NULL) {
		snprintf(fix->where, sizeof(fix->where), "policy '%s' at "
		    "%s:%d:%d", p->name, p->mark.file ? p->mark.file : "-",
		    p->mark.line, p->mark.column);
	} else {
		snprintf(fix->where, sizeof(fix->where), "the policies of %s",
		    set->file != NULL ? set->file : "the configuration");
	}
	if (cors_fix_malformed(r, origin, olen, fix)) {
		fix->change[0] = '\0';
		return;
	}
	switch (r->reason) {
	case CORS_REASON_ORIGIN:
		/* Unquoted, YAML would read null as no value at all. */
		if (strcmp(origin, "null") == 0) {
			origin = "\"null\"";
			olen = 6;
		}
		snprintf(fix->change, sizeof(fix->change), p != NULL ?
		    "origins:\n  - %.*s" :
		    "policies:\n  - name: allowed\n    origins: [%.*s]",
		    olen, origin);
		break;
	case CORS_REASON_METHOD:
		cors_fix_list(fix->change, sizeof(fix->change),
		    "allow_methods", &p->allow_methods, r->denied);
		break;
	case CORS_REASON_HEADER:
		cors_fix_list(fix->change, sizeof(fix->change),
		    "allow_headers", &p->allow_headers, r->denied);
		break;
	case CORS_REASON_PRIVATE_NETWORK:
		snprintf(fix->change, sizeof(fix->change),
		    "allow_private_network: true");
		break;
	default:
		fix->change[0] = '\0';
		break;
	}
}
