/*
 * The value parsers of the configuration: sizes in powers of 1024,
 * durations, host:port addresses and upstream URLs, the checks on
 * names and tokens, and the distance that "did you mean" weighs.
 *
 * Each takes a string and returns plain data, or -1 with, where the
 * caller needs one, a reason in errbuf; the callers add the file, line
 * and column.  A host is checked strictly because it ends up in a Host
 * header or is handed to a resolver.
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

#include "diag.h"
#include "confvalue.h"

/* Words longer than this get no "did you mean" suggestion. */
#define CONFVALUE_SUGGEST_LEN	64


/*
 * Names, tokens and "did you mean".
 */

bool
confvalue_is_digits(const char *s)
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


/* Names that land in logs and metrics labels stay plain. */
bool
confvalue_is_name(const char *s)
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


/* The HTTP token characters (RFC 9110, section 5.6.2). */
bool
confvalue_is_token(const char *s)
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


static bool
confvalue_swapped(const char *a, const char *b)
{
	return tolower((unsigned char)a[0]) == tolower((unsigned char)b[1]) &&
	    tolower((unsigned char)a[1]) == tolower((unsigned char)b[0]);
}


/*
 * "Did you mean": the optimal string alignment distance, which counts a
 * swap of two neighbours as one edit, ignoring case.
 */
size_t
confvalue_distance(const char *a, const char *b)
{
	size_t	 d[CONFVALUE_SUGGEST_LEN + 1][CONFVALUE_SUGGEST_LEN + 1];
	size_t	 la = strlen(a), lb = strlen(b), i, j, cost, best;

	if (la > CONFVALUE_SUGGEST_LEN || lb > CONFVALUE_SUGGEST_LEN) {
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
			if (i > 1 && j > 1 && confvalue_swapped(a + i - 2,
			    b + j - 2) && d[i - 2][j - 2] + 1 < best) {
				best = d[i - 2][j - 2] + 1;
			}
			d[i][j] = best;
		}
	}
	return d[la][lb];
}


/*
 * Sizes and durations.
 */

/* Splits the leading digits off s; returns their value or -1 when
 * there are none or they overflow max. */
static long long
confvalue_leading_number(const char *s, long long max, const char **rest)
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
confvalue_parse_size(const char *s, size_t *out)
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
	if ((n = confvalue_leading_number(s, max, &rest)) == -1) {
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
confvalue_parse_duration(const char *s)
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

	if ((n = confvalue_leading_number(s, LONG_MAX, &rest)) == -1) {
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


/*
 * Addresses and upstream URLs.
 */


/* A host name or IPv4 address: what a resolver will be asked for. */
static bool
confvalue_is_host(const char *s, size_t len)
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
confvalue_is_ipv6(const char *s, size_t len)
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
confvalue_port(const char *s, size_t len)
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


int
confvalue_split_host(const char *s, size_t len, char **host, int *port)
{
	const char	*h = s, *p = NULL, *close;
	size_t		 hlen, plen = 0;

	if (len > 0 && s[0] == '[') {
		if ((close = memchr(s, ']', len)) == NULL) {
			return -1;
		}
		h = s + 1;
		hlen = close - h;
		if (!confvalue_is_ipv6(h, hlen)) {
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
		if (!confvalue_is_host(s, hlen)) {
			return -1;
		}
	}

	*port = -1;
	if (p != NULL && (*port = confvalue_port(p, plen)) == -1) {
		return -1;
	}
	*host = strndup(h, hlen);
	return *host == NULL ? -1 : 0;
}


int
confvalue_parse_hostport(const char *s, char **host, int *port)
{
	char	*h;
	int	 p;

	if (confvalue_split_host(s, strlen(s), &h, &p) == -1) {
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
confvalue_check_url_rest(const char *rest, char *errbuf, size_t errlen)
{
	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		return 0;
	}
	if (rest[0] == '?') {
		return diag_format(errbuf, errlen, "a query is not allowed; "
		    "the client's own query is forwarded");
	}
	if (rest[0] == '#') {
		return diag_format(errbuf, errlen, "a fragment is not "
		    "allowed");
	}
	return diag_format(errbuf, errlen, "a path is not allowed; the "
	    "client's own path is forwarded unchanged");
}


void
confvalue_server_clear(struct config_server *srv)
{
	free(srv->url);
	free(srv->host);
	memset(srv, 0, sizeof(*srv));
}


int
confvalue_parse_server(const char *url, struct config_server *srv,
    char *errbuf, size_t errlen)
{
	const char	*auth;
	size_t		 alen;
	bool		 tls = strncasecmp(url, "https://", 8) == 0;

	if (!tls && strncasecmp(url, "http://", 7) != 0) {
		return diag_format(errbuf, errlen, "use http:// or "
		    "https://");
	}
	auth = url + (tls ? 8 : 7);
	alen = strcspn(auth, "/?#");
	if (memchr(auth, '@', alen) != NULL) {
		return diag_format(errbuf, errlen, "user information "
		    "(user@host) is not supported");
	}
	if (confvalue_check_url_rest(auth + alen, errbuf, errlen) == -1) {
		return -1;
	}

	memset(srv, 0, sizeof(*srv));
	if (alen == 0 ||
	    confvalue_split_host(auth, alen, &srv->host, &srv->port) == -1) {
		return diag_format(errbuf, errlen, "bad host or port");
	}
	if (srv->port == 0) {
		confvalue_server_clear(srv);
		return diag_format(errbuf, errlen, "the port must be 1 to "
		    "65535");
	}
	srv->tls = tls;
	srv->port = srv->port == -1 ? (tls ? 443 : 80) : srv->port;
	if ((srv->url = strdup(url)) == NULL) {
		confvalue_server_clear(srv);
		return diag_format(errbuf, errlen, "out of memory");
	}
	return 0;
}
