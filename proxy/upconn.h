/*
 * One connection to an upstream server: connect (with TLS when the
 * server is https), send a request, read the response and hand its
 * head and body to the caller as they arrive, then wait for the next
 * request while kept alive.
 *
 * Callbacks run from the connection's own events.  The headers and
 * body callbacks must not free the connection; done and failed are the
 * last calls for a request, and the callee may free it in them.
 */
#ifndef CORSPROXY_UPCONN_H
#define CORSPROXY_UPCONN_H

#include <sys/socket.h>
#include <sys/time.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct event_base;
struct evbuffer;
struct head;
struct upconn;

enum upconn_failure {
	UPCONN_CONNECT,		/* refused or unreachable: nothing sent */
	UPCONN_CONNECT_TIMEOUT,	/* not connected in time: nothing sent */
	UPCONN_TLS,		/* handshake or certificate */
	UPCONN_TIMEOUT,		/* no response byte for too long */
	UPCONN_BROKEN		/* closed early, or not HTTP */
};

struct upconn_callbacks {
	/* The final response head (interim 1xx ones are skipped). */
	void	(*headers)(void *arg, int status, const char *reason,
		    const struct head *head);
	/* Body bytes, decoded; the callee drains data. */
	void	(*body)(void *arg, struct evbuffer *data);
	void	(*done)(void *arg);
	/* detail says what went wrong, for logs and error bodies. */
	void	(*failed)(void *arg, enum upconn_failure,
		    const char *detail);
};

struct upconn_settings {
	struct event_base	*base;
	const struct sockaddr	*addr;
	socklen_t		 addrlen;
	SSL_CTX			*ssl_ctx;	/* NULL: plain HTTP */
	const char		*tls_name;	/* SNI and the name verified */
	struct timeval		 connect_tv;	/* as made by
						 * upconn_timeout() */
	struct timeval		 read_tv;
	size_t			 header_max;
};

/* The timeval for a timeout of ms on base: a libevent common timeout,
 * queued per duration instead of in the timer heap. */
struct timeval	 upconn_timeout(struct event_base *base, long ms);

/* Called when an idle connection is closed by its peer or times out;
 * the callee frees it (later is fine). */
typedef void	upconn_idle_close_cb(struct upconn *, void *arg);

/* Returns a new, unconnected connection, or NULL when out of memory. */
struct upconn	*upconn_new(const struct upconn_settings *,
		    upconn_idle_close_cb *, void *arg);

/* The buffer a request is written into, head and body, before
 * upconn_request() sends it: written in place, nothing is moved. */
struct evbuffer	*upconn_output(struct upconn *);

/*
 * Sends the request written into upconn_output().  is_head: a HEAD
 * request, whose response has no body.  Failures come back through
 * the callbacks, from the loop, never before this returns.
 */
void		 upconn_request(struct upconn *, bool is_head,
		    const struct upconn_callbacks *, void *arg);

/* Stops or resumes reading the response: the client is slow. */
void		 upconn_pause(struct upconn *, bool paused);

/* Returns true once a request has completed on it and the response
 * allowed keep-alive: it may carry the next one. */
bool		 upconn_reusable(const struct upconn *);

/* Returns true when the connection has carried a request before. */
bool		 upconn_reused(const struct upconn *);

/* Returns true when no byte of the current response has arrived. */
bool		 upconn_nothing_received(const struct upconn *);

/* Closes at once; no callback runs.  NULL does nothing. */
void		 upconn_free(struct upconn *);

#endif
