/*
 * Origin patterns and the matching of a request's Origin against them.
 *
 * Plain data in, plain data out: no libevent here, so the matcher is
 * tested from tables of cases.  An origin is "scheme://host[:port]" as
 * the Fetch standard serializes it; "null" is the opaque origin.
 */
#ifndef CORSPROXY_ORIGIN_H
#define CORSPROXY_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

enum origin_kind {
	ORIGIN_EXACT,		/* https://app.example.com[:port] */
	ORIGIN_ANY,		/* "*": any origin except null */
	ORIGIN_NULL,		/* "null", listed literally */
	ORIGIN_SUBDOMAIN,	/* "*.example.org": any depth, not apex */
	ORIGIN_REGEX		/* { regex: ... }, matched in full */
};

#define ORIGIN_PORT_ANY		(-1)	/* "host:*" */

struct origin_pattern {
	enum origin_kind	 kind;
	char			*text;		/* as written in the config */
	char			*scheme;	/* lower case: http, https */
	char			*host;		/* lower case; the suffix after
						 * "*." for ORIGIN_SUBDOMAIN;
						 * IPv6 keeps its brackets */
	int			 port;		/* explicit or the scheme's
						 * default; ORIGIN_PORT_ANY */
	void			*regex;		/* pcre2_code *, ORIGIN_REGEX */
	struct diag_mark	 mark;
};

/*
 * Parses a pattern written as text ("*", "null", exact, subdomain or
 * ":*" port forms).  Returns 0, or -1 with a message in errbuf saying
 * what is wrong (a path, a trailing slash, no scheme, a bad port).
 * The caller frees the filled pattern with origin_pattern_clear().
 */
int	origin_pattern_parse(struct origin_pattern *, const char *text,
	    char *errbuf, size_t errlen);

/* Compiles a { regex: ... } pattern, anchored at both ends. Returns 0,
 * or -1 with PCRE2's message and offset in errbuf. */
int	origin_pattern_regex(struct origin_pattern *, const char *regex,
	    char *errbuf, size_t errlen);

/* Returns true when origin (len bytes, not NUL-terminated) matches.  A
 * regex sees the origin lower-cased; "null" matches only ORIGIN_NULL. */
bool	origin_pattern_match(const struct origin_pattern *,
	    const char *origin, size_t len);

/* Frees what the pattern owns, not the struct itself. */
void	origin_pattern_clear(struct origin_pattern *);

#endif
