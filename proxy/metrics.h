/*
 * Metrics: counters of what the proxy did, rendered in Prometheus text
 * format for the admin address's /metrics.
 *
 * Each process counts into its own slot; with worker processes the
 * slots are shared, and /metrics adds up all of them.
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
	METRICS_FORWARDED,	/* a preflight the route sends to the
				 * backend, which answers it */
	METRICS_NDECISIONS
};

enum metrics_upstream_error {
	METRICS_UPSTREAM_CONNECT,	/* refused or unreachable */
	METRICS_UPSTREAM_TIMEOUT,
	METRICS_UPSTREAM_BROKEN,	/* closed early or sent garbage */
	METRICS_UPSTREAM_NERRORS
};

/* Before forking workers: puts nslots slots in memory the workers will
 * share.  Returns 0, or -1 when it cannot be mapped (errno set). */
int	metrics_share(size_t nslots);

/* In a worker: counts into slot from now on. */
void	metrics_use_slot(size_t slot);

/* A client connection opened (+1) or closed (-1). */
void	metrics_connections(int delta);

/* Counts one finished request. */
void	metrics_request(enum metrics_decision, int status, bool preflight,
	    long duration_us);

/* Counts one failed upstream attempt. */
void	metrics_upstream_error(enum metrics_upstream_error);

/* Appends every metric, summed over the slots, in Prometheus text
 * format to out. */
void	metrics_render(struct evbuffer *out);

#endif
