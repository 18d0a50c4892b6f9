/*
 * The CORS decision: given the policies that apply to a request and the
 * request's CORS-relevant headers, decide whether it is a preflight,
 * whether its origin is allowed, and which headers the response gets.
 *
 * Plain data in, plain data out: no libevent here.  The proxy copies
 * the returned headers onto the response; it merges "Origin" into the
 * upstream's Vary itself, since only it sees the upstream's headers.
 */
#ifndef CORSPROXY_CORS_H
#define CORSPROXY_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Access-Control-Request-Headers values longer than this are refused
 * without being parsed. */
#define CORS_REQUEST_HEADERS_MAX	8192

struct cors_request {
	const char	*method;		/* the request's method */
	const char	*origin;		/* Origin, NULL when absent */
	const char	*request_method;	/* Access-Control-Request-
						 * Method, or NULL */
	const char	*request_headers;	/* Access-Control-Request-
						 * Headers, every line joined
						 * with ",", or NULL */
	bool		 request_private_network; /* ...-Private-Network:
						 * true */
};

enum cors_decision {
	CORS_NO_ORIGIN,		/* forward untouched, add Vary: Origin */
	CORS_ALLOWED,
	CORS_DENIED
};

enum cors_reason {
	CORS_REASON_NONE,
	CORS_REASON_ORIGIN,		/* no policy matches the origin */
	CORS_REASON_METHOD,		/* preflight asks for a method
					 * the policy does not allow */
	CORS_REASON_HEADER,		/* ... a header not allowed */
	CORS_REASON_PRIVATE_NETWORK	/* ... private network access */
};

#define CORS_MAX_HEADERS	8

struct cors_header {
	const char	*name;
	const char	*value;		/* points into the policy, the
					 * request or the result */
};

struct cors_result {
	bool			 preflight;
	enum cors_decision	 decision;
	enum cors_reason	 reason;
	/*
	 * Report mode: the request would have been denied and is not.
	 * A preflight that matched a policy but asked for too much is
	 * CORS_ALLOWED, answered as if allowed with the method and
	 * header names it asked for reflected; reason and denied say
	 * what enforce mode would have refused.  An origin that matched
	 * no policy stays CORS_DENIED with reject false: there is no
	 * policy to answer with, so the request, preflight included,
	 * goes to the backend as if the proxy added no CORS at all.
	 */
	bool			 reported;
	/*
	 * Answer 403 now, backend not contacted: on_denied: reject.  It
	 * applies when the origin matches no policy, so no single
	 * on_denied decides: reject is set when every candidate policy
	 * says reject (and there is at least one).  Never set in report
	 * mode, nor for a preflight denied on its method, headers or
	 * private network: where the proxy answers preflights a denied
	 * one gets 403 anyway, and where the route forwards them the
	 * backend answers.
	 */
	bool			 reject;
	const struct policy	*policy;	/* matched, or NULL */
	char			 denied[128];	/* the method or header name
						 * refused, for messages;
						 * empty for private network
						 * and for an over-long
						 * Access-Control-Request-
						 * Headers */
	bool			 expose_all;	/* expose "*" with credentials:
						 * the proxy lists the actual
						 * response's header names */
	struct cors_header	 headers[CORS_MAX_HEADERS];
	size_t			 nheaders;
	char			 max_age[24];	/* Max-Age in decimal */
	char			*owned;		/* reflected values */
};

/* Returns true when the request is a CORS preflight: OPTIONS with both
 * Origin and Access-Control-Request-Method. */
bool	cors_is_preflight(const struct cors_request *);

/*
 * Decides the request against the policies of set listed in indexes
 * (all of them when indexes is NULL), tried in the order of indexes,
 * first match wins.  Fills out with the decision and the headers to
 * add: for an allowed preflight the whole set including Vary; for a
 * denied preflight only Vary; for an actual request Allow-Origin,
 * -Credentials and -Expose-Headers.  out is overwritten, so clear a
 * previous result first.  Header values stay valid while set, the
 * request's strings and out live; some point into out itself, so out
 * is used where it is and never copied.  Returns 0, or -1 when out of memory
 * (out then holds nothing).  Free with cors_result_clear().
 */
int	cors_decide(const struct policy_set *set, const size_t *indexes,
	    size_t nindexes, const struct cors_request *,
	    struct cors_result *out);

/* Writes a one-line reason for a denial ("origin https://x is not
 * allowed by any policy") into buf. */
void	cors_reason_text(const struct cors_result *, const char *origin,
	    char *buf, size_t len);

/* The YAML change that would allow a denied request. */
struct cors_fix {
	const struct policy	*policy;	/* where it goes; NULL: a new
						 * policy in the policy list */
	char			 where[400];	/* "policy 'app' at FILE:L:C" */
	bool			 add;		/* change: items to add to a
						 * list; else keys to set */
	char			 change[640];	/* YAML, may span lines; empty
						 * when no change can help */
	char			 note[320];	/* with an empty change: why
						 * ("no policy change allows
						 * it: ..."); else empty */
};

/* Fills fix for the denial in r, decided over the same policies.  A
 * malformed request (a method or header name that is not a token, an
 * over-long Access-Control-Request-Headers) gets a note, no change. */
void	cors_fix_text(const struct policy_set *set, const size_t *indexes,
	    size_t nindexes, const struct cors_result *r, const char *origin,
	    struct cors_fix *fix);

/* Returns true for a response header the proxy must drop from the
 * upstream when a policy decided: any Access-Control-* header. */
bool	cors_is_cors_header(const char *name);

/* Frees what the result owns; the struct may be reused afterwards. */
void	cors_result_clear(struct cors_result *);

#endif
