/*
 * Writing header fields into a message head, without printf: the
 * proxy writes a dozen per response, and formatting was a measurable
 * share of a small request's cost.
 */
#ifndef CORSPROXY_HEADERS_H
#define CORSPROXY_HEADERS_H

struct evbuffer;

/* Appends "name: value\r\n" to out. */
void	headers_add(struct evbuffer *out, const char *name,
	    const char *value);

/* Appends "name: " and the decimal n, then "\r\n". */
void	headers_add_number(struct evbuffer *out, const char *name,
	    unsigned long long n);

#endif
