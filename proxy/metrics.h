/*
 * Metrics: counters of what the proxy did, rendered in Prometheus text
 * format for the admin address's /metrics.
 *
 * One set per process: each worker counts its own requests.
 */
#ifndef CORSPROXY_METRICS_H
#define CORSPROXY_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

enum metrics_decision {
	METRICS_ALLOWED,
	METRICS_DENIED,
	METRICS_REPORTED,	/* report mode: would have been denied */
	METRICS_NO_ORIGIN,
	METRICS_NDECISIONS
};

enum metrics_upstream_error {
	METRICS_UPSTREAM_CONNECT,	/* refused or unreachable */
	METRICS_UPSTREAM_TIMEOUT,
	METRICS_UPSTREAM_BROKEN,	/* closed early or sent garbage */
	METRICS_UPSTREAM_NERRORS
};

/* Counts one finished request. */
void	metrics_request(enum metrics_decision, int status, bool preflight,
	    long duration_us);

/* Counts one failed upstream attempt. */
void	metrics_upstream_error(enum metrics_upstream_error);

/* Appends every metric in Prometheus text format to out. */
void	metrics_render(struct evbuffer *out, size_t open_connections);

#endif
