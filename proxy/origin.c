/*
 * Origin patterns: parsing them from the configuration and matching a
 * request's Origin header against them.
 *
 * A pattern is parsed once, at load time, into a lower-case scheme and
 * host and a port with the scheme's default filled in, so a match is a
 * few comparisons.  Load errors say what is wrong and what to write
 * instead, because the person reading them is editing a YAML file.
 *
 * A request's Origin is parsed on every match into views of the
 * caller's bytes; nothing is allocated on that path.  The parse is
 * strict, as the Fetch standard serializes an origin (scheme "://"
 * host [":" port]), so garbage never matches an exact, subdomain or
 * "*" pattern.  Only a regex sees bytes that parse would refuse, since
 * its author chose to match them.  The opaque origin "null" matches
 * nothing but a literal "null" pattern, whatever a regex would say.
 *
 * PCRE2 wants match data and a match context for every match.  One of
 * each is shared by all regex patterns of the process (a worker runs
 * one thread) and freed with the last regex pattern.  The backtracking
 * frames PCRE2 grows on a first deep match stay in that match data, so
 * later matches allocate nothing either.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <arpa/inet.h>

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag.h"
#include "origin.h"

/* No real origin comes near this: a host name is at most 253 bytes. */
#define ORIGIN_MAX_LEN			2048

/* Bounds on one regex match, so a hostile Origin cannot make a
 * careless pattern backtrack for seconds. */
#define ORIGIN_REGEX_MATCH_LIMIT	100000
#define ORIGIN_REGEX_DEPTH_LIMIT	1000
#define ORIGIN_REGEX_HEAP_LIMIT		1024	/* KiB */

/* Views of an origin's parts; not NUL-terminated. */
struct origin_parts {
	const char	*scheme;
	size_t		 scheme_len;
	const char	*host;
	size_t		 host_len;
	int		 port;		/* explicit or default; -1: none */
};

static struct {
	pcre2_match_data	*data;
	pcre2_match_context	*context;
	size_t			 users;
} origin_pcre;

static void
origin_lower(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'Z') {
			*s = *s - 'A' + 'a';
		}
	}
}


static bool
origin_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}


static bool
origin_is_alnum(char c)
{
	return origin_is_alpha(c) || (c >= '0' && c <= '9');
}


static bool
origin_is_digit(char c)
{
	return c >= '0' && c <= '9';
}


/* The scheme's default port, or -1 for a scheme without one. */
static int
origin_default_port(const char *scheme, size_t len)
{
	if (len == 4 && strncasecmp(scheme, "http", 4) == 0) {
		return 80;
	}
	if (len == 5 && strncasecmp(scheme, "https", 5) == 0) {
		return 443;
	}
	return -1;
}


/*
 * Reads a port of 1 to 65535 written without leading zeros, as an
 * origin serializes it.  Returns the port, or -1.
 */
static int
origin_port_value(const char *s, size_t len)
{
	size_t	 i;
	long	 port = 0;

	if (len == 0 || len > 5 || s[0] == '0') {
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!origin_is_digit(s[i])) {
			return -1;
		}
		port = port * 10 + (s[i] - '0');
	}
	return port <= 65535 ? (int)port : -1;
}


/* Parses an IPv6 address given without its brackets.  Returns 0 or -1. */
static int
origin_ipv6(const char *s, size_t len, struct in6_addr *addr)
{
	char	 buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf)) {
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, addr) == 1 ? 0 : -1;
}


/*
 * A host name as a browser serializes it: letters, digits, '-' and
 * '_', in labels separated by single dots.  A trailing dot is a
 * distinct, valid host; an empty label elsewhere is not.
 */
static bool
origin_is_host_name(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || s[0] == '.') {
		return false;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.') {
				return false;
			}
		} else if (!origin_is_alnum(s[i]) && s[i] != '-' &&
		    s[i] != '_') {
			return false;
		}
	}
	return true;
}


/* Splits the host (with brackets, for IPv6) from what follows it. */
static int
origin_split_host(const char *s, size_t len, struct origin_parts *o)
{
	struct in6_addr	 addr;
	size_t		 i;

	o->host = s;
	if (len > 0 && s[0] == '[') {
		for (i = 1; i < len && s[i] != ']'; i++) {
			;
		}
		if (i == len || origin_ipv6(s + 1, i - 1, &addr) == -1) {
			return -1;
		}
		o->host_len = i + 1;
		return 0;
	}
	for (i = 0; i < len && s[i] != ':'; i++) {
		;
	}
	o->host_len = i;
	return origin_is_host_name(s, i) ? 0 : -1;
}


/*
 * Splits a request's Origin into its parts, strictly: scheme "://"
 * host [":" port] and nothing else.  Returns 0, or -1 for garbage.
 */
static int
origin_split(const char *s, size_t len, struct origin_parts *o)
{
	size_t	 i, rest;

	if (len == 0 || !origin_is_alpha(s[0])) {
		return -1;
	}
	for (i = 1; i < len && (origin_is_alnum(s[i]) || s[i] == '+' ||
	    s[i] == '-' || s[i] == '.'); i++) {
		;
	}
	if (len - i < 3 || memcmp(s + i, "://", 3) != 0) {
		return -1;
	}
	o->scheme = s;
	o->scheme_len = i;
	i += 3;

	if (origin_split_host(s + i, len - i, o) == -1) {
		return -1;
	}
	i += o->host_len;
	rest = len - i;

	if (rest == 0) {
		o->port = origin_default_port(o->scheme, o->scheme_len);
		return 0;
	}
	if (s[i] != ':') {
		return -1;
	}
	o->port = origin_port_value(s + i + 1, rest - 1);
	return o->port == -1 ? -1 : 0;
}


static bool
origin_host_equal(const char *host, const struct origin_parts *o)
{
	struct in6_addr	 a, b;
	size_t		 len = strlen(host);

	if (host[0] != '[') {
		return len == o->host_len &&
		    strncasecmp(host, o->host, len) == 0;
	}
	if (o->host_len < 2 || o->host[0] != '[') {
		return false;
	}
	if (origin_ipv6(host + 1, len - 2, &a) == -1 ||
	    origin_ipv6(o->host + 1, o->host_len - 2, &b) == -1) {
		return false;
	}
	return memcmp(&a, &b, sizeof(a)) == 0;
}


/* True when the origin's host is suffix with at least one label in
 * front of it: "a.b.example.org" for "example.org", never the apex and
 * never "evilexample.org". */
static bool
origin_host_below(const char *suffix, const struct origin_parts *o)
{
	size_t	 len = strlen(suffix);
	size_t	 start;

	if (o->host[0] == '[' || o->host_len < len + 2) {
		return false;
	}
	start = o->host_len - len;
	if (o->host[start - 1] != '.') {
		return false;
	}
	return strncasecmp(o->host + start, suffix, len) == 0;
}


/*
 * A regex sees the origin with its letters lower-cased, as a browser
 * serializes it: every other pattern compares scheme and host without
 * case, and a regex must not let "HTTPS://A.COM" through where it
 * refuses "https://a.com", or the reverse.  The regex keeps its own
 * case, so one written in upper case matches nothing unless it says
 * (?i).  The caller has bounded len by ORIGIN_MAX_LEN.
 */
static bool
origin_regex_match(const struct origin_pattern *p, const char *origin,
    size_t len)
{
	char	 folded[ORIGIN_MAX_LEN];
	size_t	 i;
	int	 rc;

	if (p->regex == NULL || origin_pcre.data == NULL) {
		return false;
	}
	for (i = 0; i < len; i++) {
		folded[i] = origin[i] >= 'A' && origin[i] <= 'Z' ?
		    origin[i] - 'A' + 'a' : origin[i];
	}
	rc = pcre2_match(p->regex, (PCRE2_SPTR)folded, len, 0, 0,
	    origin_pcre.data, origin_pcre.context);

	/* 0 means the match data had no room for the captures: still a
	 * match.  Negative values include hitting the limits. */
	return rc >= 0;
}


bool
origin_pattern_match(const struct origin_pattern *p, const char *origin,
    size_t len)
{
	struct origin_parts	 o;

	if (p == NULL || origin == NULL || len > ORIGIN_MAX_LEN) {
		return false;
	}
	if (p->kind == ORIGIN_NULL) {
		return len == 4 && memcmp(origin, "null", 4) == 0;
	}

	/*
	 * Sandboxed frames, local files and redirected requests all send
	 * "null", so any site can obtain it: only a pattern that lists it
	 * literally may allow it, never one that happens to fit it.  In
	 * any case, since a regex sees the origin lower-cased.
	 */
	if (len == 4 && strncasecmp(origin, "null", 4) == 0) {
		return false;
	}
	if (p->kind == ORIGIN_REGEX) {
		return origin_regex_match(p, origin, len);
	}

	if (origin_split(origin, len, &o) == -1) {
		return false;
	}
	if (p->kind == ORIGIN_ANY) {
		return true;
	}
	if (strlen(p->scheme) != o.scheme_len ||
	    strncasecmp(p->scheme, o.scheme, o.scheme_len) != 0) {
		return false;
	}
	if (p->port != ORIGIN_PORT_ANY && p->port != o.port) {
		return false;
	}
	if (p->kind == ORIGIN_SUBDOMAIN) {
		return origin_host_below(p->host, &o);
	}
	return origin_host_equal(p->host, &o);
}


/*
 * Pattern parsing.  Each step checks one thing and says, in errbuf,
 * what the author should write instead.
 */

static int
origin_check_chars(const char *text, char *errbuf, size_t errlen)
{
	const unsigned char	*s;

	if (*text == '\0') {
		return diag_format(errbuf, errlen, "origin is empty");
	}
	for (s = (const unsigned char *)text; *s != '\0'; s++) {
		if (*s <= ' ' || *s == 0x7f) {
			return diag_format(errbuf, errlen, "origin '%s' "
			    "contains whitespace or a control character",
			    text);
		}
		if (*s >= 0x80) {
			return diag_format(errbuf, errlen, "origin '%s' has "
			    "a non-ASCII character; write an international "
			    "host name in punycode (xn--...)", text);
		}
	}
	return 0;
}


static int
origin_star_error(const char *text, char *errbuf, size_t errlen)
{
	return diag_format(errbuf, errlen, "origin '%s' has '*' in the "
	    "wrong place; '*' may only be a leading '*.' label, as in "
	    "https://*.example.org, or the port, as in http://localhost:*",
	    text);
}


/* Reads "scheme://" and returns the length up to the authority, or -1. */
static int
origin_parse_scheme(struct origin_pattern *p, const char *text,
    char *errbuf, size_t errlen)
{
	const char	*sep = strstr(text, "://");
	size_t		 len;

	if (sep == NULL || sep == text) {
		return diag_format(errbuf, errlen, "origin '%s' has no "
		    "scheme; write it as https://host or http://host", text);
	}
	len = sep - text;
	if (memchr(text, '*', len) != NULL) {
		return origin_star_error(text, errbuf, errlen);
	}
	if ((p->scheme = strndup(text, len)) == NULL) {
		return diag_format(errbuf, errlen, "out of memory");
	}
	origin_lower(p->scheme);
	if (strcmp(p->scheme, "http") != 0 && strcmp(p->scheme, "https") != 0) {
		return diag_format(errbuf, errlen, "origin '%s' has scheme "
		    "'%.*s'; only http and https are allowed", text,
		    (int)len, text);
	}
	return (int)(len + 3);
}


/* Refuses anything after the authority, and user information in it. */
static int
origin_check_authority(const char *text, const char *auth, char *errbuf,
    size_t errlen)
{
	size_t	 n = strcspn(auth, "/?#");

	if (auth[n] == '/' && auth[n + 1] == '\0' && n > 0) {
		return diag_format(errbuf, errlen, "origin '%s' ends with a "
		    "slash; write it without: '%.*s'", text,
		    (int)(auth + n - text), text);
	}
	if (auth[n] == '/') {
		return diag_format(errbuf, errlen, "origin '%s' has a path; "
		    "an origin is scheme://host[:port] only", text);
	}
	if (auth[n] != '\0') {
		return diag_format(errbuf, errlen, "origin '%s' has a query "
		    "or fragment; an origin is scheme://host[:port] only",
		    text);
	}
	if (strchr(auth, '@') != NULL) {
		return diag_format(errbuf, errlen, "origin '%s' has user "
		    "information; an origin is scheme://host[:port] only",
		    text);
	}
	return 0;
}


/* Reads ":port", ":*" or nothing, filling in the default port. */
static int
origin_parse_port(struct origin_pattern *p, const char *text,
    const char *port, char *errbuf, size_t errlen)
{
	if (*port == '\0') {
		p->port = origin_default_port(p->scheme, strlen(p->scheme));
		return 0;
	}
	port++;
	if (strcmp(port, "*") == 0) {
		p->port = ORIGIN_PORT_ANY;
		return 0;
	}
	if ((p->port = origin_port_value(port, strlen(port))) == -1) {
		return diag_format(errbuf, errlen, "origin '%s' has a bad "
		    "port '%s'; a port is a number from 1 to 65535 without "
		    "leading zeros, or '*' for any port", text, port);
	}
	return 0;
}


/* Reads "[v6]" and stores it canonical, so errors and logs agree. */
static int
origin_parse_ipv6(struct origin_pattern *p, const char *text,
    const char *auth, const char **end, char *errbuf, size_t errlen)
{
	struct in6_addr	 addr;
	char		 buf[INET6_ADDRSTRLEN];
	const char	*close = strchr(auth, ']');

	if (close == NULL) {
		return diag_format(errbuf, errlen, "origin '%s' has a '[' "
		    "without its ']'", text);
	}
	if (origin_ipv6(auth + 1, close - auth - 1, &addr) == -1) {
		return diag_format(errbuf, errlen, "origin '%s' has an "
		    "invalid IPv6 address '%.*s'", text,
		    (int)(close - auth - 1), auth + 1);
	}
	inet_ntop(AF_INET6, &addr, buf, sizeof(buf));
	if (asprintf(&p->host, "[%s]", buf) == -1) {
		p->host = NULL;
		return diag_format(errbuf, errlen, "out of memory");
	}
	if (close[1] != '\0' && close[1] != ':') {
		return diag_format(errbuf, errlen, "origin '%s' has "
		    "characters after the IPv6 address", text);
	}
	*end = close + 1;
	return 0;
}


static int
origin_check_host(const char *text, const char *host, size_t len,
    char *errbuf, size_t errlen)
{
	if (memchr(host, '*', len) != NULL) {
		return origin_star_error(text, errbuf, errlen);
	}
	if (len == 0) {
		return diag_format(errbuf, errlen, "origin '%s' has no host",
		    text);
	}
	if (!origin_is_host_name(host, len) || host[len - 1] == '.') {
		return diag_format(errbuf, errlen, "origin '%s' has an "
		    "invalid host '%.*s'; a host is letters, digits, '-' "
		    "and '_' in labels separated by single dots", text,
		    (int)len, host);
	}
	return 0;
}


/* Reads a host name, or "*." and the name below which any host is
 * allowed, up to the port. */
static int
origin_parse_name(struct origin_pattern *p, const char *text,
    const char *auth, const char **end, char *errbuf, size_t errlen)
{
	size_t	 len = strcspn(auth, ":");

	if (strchr(auth + len + (auth[len] != '\0'), ':') != NULL) {
		return diag_format(errbuf, errlen, "origin '%s' has more "
		    "than one ':'; write an IPv6 address in brackets, as in "
		    "http://[::1]:8080", text);
	}
	*end = auth + len;
	if (len > 2 && auth[0] == '*' && auth[1] == '.') {
		p->kind = ORIGIN_SUBDOMAIN;
		auth += 2;
		len -= 2;
	}
	if (origin_check_host(text, auth, len, errbuf, errlen) == -1) {
		return -1;
	}
	if ((p->host = strndup(auth, len)) == NULL) {
		return diag_format(errbuf, errlen, "out of memory");
	}
	origin_lower(p->host);
	return 0;
}


static int
origin_parse_url(struct origin_pattern *p, const char *text,
    char *errbuf, size_t errlen)
{
	const char	*auth, *end = NULL;
	int		 n, rc;

	if ((n = origin_parse_scheme(p, text, errbuf, errlen)) == -1) {
		return -1;
	}
	auth = text + n;
	if (origin_check_authority(text, auth, errbuf, errlen) == -1) {
		return -1;
	}

	p->kind = ORIGIN_EXACT;
	if (auth[0] == '[') {
		rc = origin_parse_ipv6(p, text, auth, &end, errbuf, errlen);
	} else {
		rc = origin_parse_name(p, text, auth, &end, errbuf, errlen);
	}
	if (rc == -1) {
		return -1;
	}
	return origin_parse_port(p, text, end, errbuf, errlen);
}


/* Zeroes the pattern but keeps the mark the caller may have set. */
static void
origin_pattern_reset(struct origin_pattern *p)
{
	struct diag_mark	 mark = p->mark;

	memset(p, 0, sizeof(*p));
	p->mark = mark;
}


int
origin_pattern_parse(struct origin_pattern *p, const char *text,
    char *errbuf, size_t errlen)
{
	origin_pattern_reset(p);
	if (origin_check_chars(text, errbuf, errlen) == -1) {
		return -1;
	}
	if (strcmp(text, "*") == 0) {
		p->kind = ORIGIN_ANY;
	} else if (strcmp(text, "null") == 0) {
		p->kind = ORIGIN_NULL;
	} else if (origin_parse_url(p, text, errbuf, errlen) == -1) {
		goto fail;
	}
	if ((p->text = strdup(text)) == NULL) {
		diag_format(errbuf, errlen, "out of memory");
		goto fail;
	}
	return 0;

fail:
	origin_pattern_clear(p);
	return -1;
}


static int
origin_pcre_hold(void)
{
	if (origin_pcre.users++ > 0) {
		return 0;
	}
	origin_pcre.data = pcre2_match_data_create(1, NULL);
	origin_pcre.context = pcre2_match_context_create(NULL);
	if (origin_pcre.data == NULL || origin_pcre.context == NULL) {
		origin_pcre.users = 1;
		return -1;
	}
	pcre2_set_match_limit(origin_pcre.context, ORIGIN_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(origin_pcre.context, ORIGIN_REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(origin_pcre.context, ORIGIN_REGEX_HEAP_LIMIT);
	return 0;
}


static void
origin_pcre_release(void)
{
	if (origin_pcre.users == 0 || --origin_pcre.users > 0) {
		return;
	}
	pcre2_match_data_free(origin_pcre.data);
	pcre2_match_context_free(origin_pcre.context);
	origin_pcre.data = NULL;
	origin_pcre.context = NULL;
}


/*
 * Anchoring by options rather than by wrapping the text in ^(?:...)$:
 * a pattern ending in an open \Q or a comment would swallow the
 * wrapper.  DOLLAR_ENDONLY keeps an author's '$' from accepting a
 * trailing newline.
 */
int
origin_pattern_regex(struct origin_pattern *p, const char *regex,
    char *errbuf, size_t errlen)
{
	PCRE2_UCHAR	 msg[256];
	PCRE2_SIZE	 offset;
	int		 code;

	origin_pattern_reset(p);
	p->kind = ORIGIN_REGEX;
	p->regex = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
	    PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY,
	    &code, &offset, NULL);
	if (p->regex == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		return diag_format(errbuf, errlen, "regex '%s': %s at "
		    "offset %zu", regex, (char *)msg, (size_t)offset);
	}
	if (origin_pcre_hold() == -1 || (p->text = strdup(regex)) == NULL) {
		origin_pattern_clear(p);
		return diag_format(errbuf, errlen, "out of memory");
	}
	return 0;
}


void
origin_pattern_clear(struct origin_pattern *p)
{
	if (p == NULL) {
		return;
	}
	if (p->kind == ORIGIN_REGEX && p->regex != NULL) {
		pcre2_code_free(p->regex);
		origin_pcre_release();
	}
	free(p->text);
	free(p->scheme);
	free(p->host);
	origin_pattern_reset(p);
}
