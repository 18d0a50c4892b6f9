/*
 * The admin address: /healthz for liveness checks and /metrics for
 * Prometheus, served on their own listener, away from proxied traffic.
 */
#ifndef CORSPROXY_ADMIN_H
#define CORSPROXY_ADMIN_H

struct client_request;

/* The client module's request callback for the admin listener; arg is
 * not used. */
void	admin_handle(struct client_request *, int refused,
	    const char *message, void *arg);

#endif
