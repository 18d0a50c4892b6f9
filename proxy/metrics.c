/*
 * Metrics.
 *
 * Plain counters, bumped on the request path and read only when
 * /metrics is asked for.  The request-duration histogram uses the
 * bucket bounds Prometheus clients commonly default to, so dashboards
 * built for other proxies fit.
 */
#include <inttypes.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "metrics.h"

#define METRICS_NCLASSES	5	/* 1xx .. 5xx */

static const double metrics_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define METRICS_NBUCKETS	(sizeof(metrics_bounds) / \
				    sizeof(metrics_bounds[0]))

static const char *const metrics_decisions[] = {
	"allowed", "denied", "reported", "no-origin"
};

static const char *const metrics_errors[] = {
	"connect", "timeout", "broken"
};

static struct {
	uint64_t	requests[METRICS_NDECISIONS][METRICS_NCLASSES];
	uint64_t	preflights[METRICS_NDECISIONS];
	uint64_t	upstream_errors[METRICS_UPSTREAM_NERRORS];
	uint64_t	buckets[METRICS_NBUCKETS];
	uint64_t	count;
	double		sum;
} metrics;


void
metrics_request(enum metrics_decision d, int status, bool preflight,
    long duration_us)
{
	double	 seconds = (double)duration_us / 1e6;
	int	 class = status / 100 - 1;
	size_t	 i;

	if (class < 0 || class >= METRICS_NCLASSES) {
		class = METRICS_NCLASSES - 1;
	}
	metrics.requests[d][class]++;
	if (preflight) {
		metrics.preflights[d]++;
	}
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		if (seconds <= metrics_bounds[i]) {
			metrics.buckets[i]++;
		}
	}
	metrics.count++;
	metrics.sum += seconds;
}


void
metrics_upstream_error(enum metrics_upstream_error e)
{
	metrics.upstream_errors[e]++;
}


static void
metrics_render_requests(struct evbuffer *out)
{
	size_t	 d, c;

	evbuffer_add_printf(out, "# HELP corsproxy_requests_total Requests "
	    "finished, by CORS decision and status class.\n"
	    "# TYPE corsproxy_requests_total counter\n");
	for (d = 0; d < METRICS_NDECISIONS; d++) {
		for (c = 0; c < METRICS_NCLASSES; c++) {
			evbuffer_add_printf(out, "corsproxy_requests_total"
			    "{decision=\"%s\",status=\"%zuxx\"} %" PRIu64 "\n",
			    metrics_decisions[d], c + 1,
			    metrics.requests[d][c]);
		}
	}
	evbuffer_add_printf(out, "# HELP corsproxy_preflights_total "
	    "Preflights, by CORS decision.\n"
	    "# TYPE corsproxy_preflights_total counter\n");
	for (d = 0; d < METRICS_NDECISIONS; d++) {
		evbuffer_add_printf(out, "corsproxy_preflights_total"
		    "{decision=\"%s\"} %" PRIu64 "\n", metrics_decisions[d],
		    metrics.preflights[d]);
	}
}


static void
metrics_render_duration(struct evbuffer *out)
{
	size_t	 i;

	evbuffer_add_printf(out, "# HELP corsproxy_request_duration_seconds "
	    "Time from a request's arrival to the end of its response.\n"
	    "# TYPE corsproxy_request_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		evbuffer_add_printf(out, "corsproxy_request_duration_seconds_"
		    "bucket{le=\"%g\"} %" PRIu64 "\n", metrics_bounds[i],
		    metrics.buckets[i]);
	}
	evbuffer_add_printf(out, "corsproxy_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} %" PRIu64 "\n"
	    "corsproxy_request_duration_seconds_sum %.6f\n"
	    "corsproxy_request_duration_seconds_count %" PRIu64 "\n",
	    metrics.count, metrics.sum, metrics.count);
}


void
metrics_render(struct evbuffer *out, size_t open_connections)
{
	size_t	 e;

	metrics_render_requests(out);
	evbuffer_add_printf(out, "# HELP corsproxy_upstream_errors_total "
	    "Failed upstream attempts, by kind.\n"
	    "# TYPE corsproxy_upstream_errors_total counter\n");
	for (e = 0; e < METRICS_UPSTREAM_NERRORS; e++) {
		evbuffer_add_printf(out, "corsproxy_upstream_errors_total"
		    "{kind=\"%s\"} %" PRIu64 "\n", metrics_errors[e],
		    metrics.upstream_errors[e]);
	}
	evbuffer_add_printf(out, "# HELP corsproxy_open_connections Client "
	    "connections open now.\n"
	    "# TYPE corsproxy_open_connections gauge\n"
	    "corsproxy_open_connections %zu\n", open_connections);
	metrics_render_duration(out);
}
