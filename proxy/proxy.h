/*
 * The request path: route a client's request, apply the CORS decision,
 * answer preflights and proxy-made errors, and forward everything else
 * to an upstream server, streaming the response back.
 */
#ifndef CORSPROXY_PROXY_H
#define CORSPROXY_PROXY_H

#include <stddef.h>

#include "config.h"

struct client_request;
struct event_base;
struct proxy;

/* Builds the request path for one worker.  config must outlive it.
 * Returns NULL with a message in errbuf. */
struct proxy	*proxy_new(struct event_base *, const struct config *,
		    char *errbuf, size_t len);

/* Frees the proxy; no request may be in flight.  NULL does nothing. */
void		 proxy_free(struct proxy *);

/* The client module's request callback; arg is the struct proxy.
 * refused is the status of a request it refused while reading, or 0. */
void		 proxy_handle(struct client_request *, int refused,
		    const char *message, void *arg);

/* Returns the number of requests not yet finished. */
unsigned	 proxy_inflight(const struct proxy *);

#endif
