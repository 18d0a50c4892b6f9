/*
 * The values a configuration is written in: sizes, durations,
 * host:port addresses, upstream URLs, names and tokens, and the edit
 * distance behind "did you mean".
 *
 * Plain strings in, plain data out: nothing here knows YAML or
 * reports anything, so the proxy and the tests can use them alone.
 */
#ifndef CORSPROXY_CONFVALUE_H
#define CORSPROXY_CONFVALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Room for any reason a parser here or in origin.c writes to errbuf. */
#define CONFVALUE_ERRLEN	512

/* True when s is one or more decimal digits. */
bool		 confvalue_is_digits(const char *);

/* True when s is a plain name: letters, digits, '-', '_' and '.'. */
bool		 confvalue_is_name(const char *);

/* True when s is an HTTP token (RFC 9110, section 5.6.2). */
bool		 confvalue_is_token(const char *);

/* The edit distance between a and b, ignoring case, with a swap of two
 * neighbours as one edit; SIZE_MAX when either is too long to weigh. */
size_t		 confvalue_distance(const char *a, const char *b);

/* Parses "32KiB", "10MiB", "512B" or a bare number into bytes; returns
 * 0, or -1 when malformed or too large. */
int		 confvalue_parse_size(const char *, size_t *);

/* Parses "10s", "250ms", "2m" into milliseconds; -1 when malformed. */
long		 confvalue_parse_duration(const char *);

/* Splits the len bytes of "host[:port]" or "[v6][:port]" into a
 * malloc'ed host without brackets and a port, -1 when none is written.
 * Returns 0, or -1 when malformed. */
int		 confvalue_split_host(const char *, size_t len, char **host,
		    int *port);

/* Splits "host:port" or "[v6]:port" into a malloc'ed host without
 * brackets and a port.  Returns 0, or -1 when malformed. */
int		 confvalue_parse_hostport(const char *, char **host,
		    int *port);

/* Parses an http:// or https:// upstream URL with no path beyond "/".
 * Returns 0, or -1 with a reason in errbuf; on success the caller
 * frees what srv holds with confvalue_server_clear(). */
int		 confvalue_parse_server(const char *url,
		    struct config_server *srv, char *errbuf, size_t errlen);

/* Frees what srv holds and zeroes it. */
void		 confvalue_server_clear(struct config_server *srv);

#endif
