/*
 * Client connections: the server side of HTTP/1.1.
 *
 * evhttp's server side answers some requests on its own (oversized or
 * malformed ones) with HTML pages the proxy never sees, so they carry
 * no CORS headers and leave no access-log line; it also has one
 * timeout for every phase and cannot hand over a connection.  This
 * module reads requests and writes responses itself, and reports every
 * request it refuses to the same callbacks as the ones it accepts.
 * The upstream side is upconn.c.
 *
 * One request at a time per connection.  A struct client_request is
 * valid from the request callback until client_reply_end() (or
 * client_reply()) returns, or until the close callback has run.
 */
#ifndef CORSPROXY_CLIENT_H
#define CORSPROXY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct event_base;
struct evbuffer;
struct evconnlistener;
struct head;
struct client_server;
struct client_request;

/*
 * Called once the request head and body have been read.  When status
 * is not 0, the request was refused while reading (400, 413, 417, 431,
 * 500, 501, 505): the headers read so far are available, the body is
 * not, and the callee must answer with client_reply(); the connection
 * closes afterwards.  message then says what was wrong, for the body.
 */
typedef void	client_request_cb(struct client_request *, int status,
		    const char *message, void *arg);

/* Called when the connection ends before the response did. */
typedef void	client_close_cb(struct client_request *, void *arg);

/* Called when the output buffer has drained after a chunk. */
typedef void	client_drained_cb(struct client_request *, void *arg);

struct client_server	*client_server_new(struct event_base *,
			    const struct config *, client_request_cb *,
			    void *arg);

/* Serves the connections listener accepts; the server owns it after
 * the call, and frees it with client_server_stop() or _free(). */
int			 client_server_listen(struct client_server *,
			    struct evconnlistener *);

/* Stops accepting: frees every listener.  Connections stay.  NULL does
 * nothing. */
void			 client_server_stop(struct client_server *);

/* Closes every connection and frees the server; NULL does nothing. */
void			 client_server_free(struct client_server *);

/* Counts this server's connections in /metrics' open connections. */
void			 client_server_meter(struct client_server *);

/* The request. */
const char	*client_request_method(const struct client_request *);
const char	*client_request_target(const struct client_request *);
int		 client_request_minor(const struct client_request *);
const char	*client_request_peer(const struct client_request *);
const struct head *client_request_head(const struct client_request *);
struct evbuffer	*client_request_body(struct client_request *);
bool		 client_request_tls(const struct client_request *);

/* Adds a response header field, before replying; fields are written
 * in the order added. */
void		 client_response_add(struct client_request *,
		    const char *name, const char *value);

/* Adds len bytes of whole "name: value\r\n" lines, none of them
 * Content-Length or Date, as one piece. */
void		 client_response_add_lines(struct client_request *,
		    const char *lines, size_t len);

/* Sends a complete response with body (may be NULL) and ends it.  A
 * NULL reason is the status's standard phrase. */
void		 client_reply(struct client_request *, int status,
		    const char *reason, struct evbuffer *body);

/*
 * Sends the status line and headers of a streamed response.  With a
 * Content-Length header the body is sent as is; without one it is
 * chunked for HTTP/1.1 and ends with the connection for HTTP/1.0.
 */
void		 client_reply_start(struct client_request *, int status,
		    const char *reason);

/* The same two, with len bytes of whole "name: value\r\n" lines (none
 * of them Content-Length or Date) that the caller formatted, written
 * after the fields added one by one and straight into the output. */
void		 client_reply_lines(struct client_request *, int status,
		    const char *reason, const char *lines, size_t len,
		    struct evbuffer *body);
void		 client_reply_start_lines(struct client_request *,
		    int status, const char *reason, const char *lines,
		    size_t len);

/* Moves data into the response body (data is drained). */
void		 client_reply_chunk(struct client_request *,
		    struct evbuffer *data);

/* Ends a streamed response; the request is gone after the call. */
void		 client_reply_end(struct client_request *);

/* Ends the connection now, mid-response: the client sees a cut-short
 * body.  The request is gone after the call; no close callback runs. */
void		 client_abort(struct client_request *);

/* Returns the number of response bytes not yet written. */
size_t		 client_output_pending(const struct client_request *);

void		 client_set_close_cb(struct client_request *,
		    client_close_cb *, void *);
void		 client_set_drained_cb(struct client_request *,
		    client_drained_cb *, void *);

#endif
