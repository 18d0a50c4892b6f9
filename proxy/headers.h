/*
 * Header fields by name, and writing them into a message head.
 *
 * The proxy looks at a few fields of every message (framing, the hop-
 * by-hop ones, CORS); headers_name() tells which one a field is with
 * one look at its length and at most two comparisons, instead of a
 * case-insensitive comparison against every name of interest.  Fields
 * are written without printf: the proxy writes a dozen per response,
 * and formatting was a measurable share of a small request's cost.
 */
#ifndef CORSPROXY_HEADERS_H
#define CORSPROXY_HEADERS_H

#include <stdbool.h>

struct evbuffer;

enum headers_name {
	HEADERS_OTHER,
	/* Hop-by-hop: they describe one connection, not the message. */
	HEADERS_CONNECTION,
	HEADERS_KEEP_ALIVE,
	HEADERS_PROXY_CONNECTION,
	HEADERS_TE,
	HEADERS_TRAILER,
	HEADERS_TRANSFER_ENCODING,
	HEADERS_UPGRADE,
	HEADERS_PROXY_AUTHORIZATION,
	HEADERS_EXPECT,
	/* End to end. */
	HEADERS_HOST,
	HEADERS_CONTENT_LENGTH,
	HEADERS_DATE,
	HEADERS_VARY,
	HEADERS_ORIGIN,
	HEADERS_X_FORWARDED_FOR,
	HEADERS_X_FORWARDED_PROTO,
	HEADERS_X_FORWARDED_HOST,
	/* Access-Control-*, the CORS protocol's own. */
	HEADERS_AC_REQUEST_METHOD,
	HEADERS_AC_REQUEST_HEADERS,
	HEADERS_AC_REQUEST_PRIVATE_NETWORK,
	HEADERS_AC_OTHER,
	HEADERS_NNAMES
};

/* Which of the fields above name is, compared case-insensitively. */
enum headers_name headers_name(const char *name);

/* Returns true for the hop-by-hop names. */
bool	headers_is_hop_by_hop(enum headers_name);

/* Returns true for every Access-Control-* name. */
bool	headers_is_cors(enum headers_name);

/* Writes "name: value\r\n" at buf, which has room for len bytes.
 * Returns the bytes written, or 0 (nothing written) when it does not
 * fit. */
size_t	headers_line(char *buf, size_t len, const char *name,
	    const char *value);

/* Appends "name: value\r\n" to out. */
void	headers_add(struct evbuffer *out, const char *name,
	    const char *value);

/* Appends "name: " and the decimal n, then "\r\n". */
void	headers_add_number(struct evbuffer *out, const char *name,
	    unsigned long long n);

#endif
