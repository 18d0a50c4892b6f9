/*
 * Metrics.
 *
 * Plain counters, bumped on the request path and read only when
 * /metrics is asked for.  The request-duration histogram uses the
 * bucket bounds Prometheus clients commonly default to, so dashboards
 * built for other proxies fit.
 *
 * Each process counts into a slot of its own.  With worker processes
 * the slots live in one shared anonymous mapping made before the
 * workers are forked, so whichever worker answers /metrics adds up
 * every worker's counts.  A slot has one writer; a reader may see a
 * count one request old, never a torn one (aligned 64-bit words).
 */
#include <sys/mman.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

#define METRICS_NCLASSES	5	/* 1xx .. 5xx */

static const double metrics_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define METRICS_NBUCKETS	(sizeof(metrics_bounds) / \
				    sizeof(metrics_bounds[0]))

static const char *const metrics_decisions[] = {
	"allowed", "denied", "reported", "no-origin", "forwarded"
};

static const char *const metrics_errors[] = {
	"connect", "timeout", "broken"
};

struct metrics_slot {
	uint64_t	requests[METRICS_NDECISIONS][METRICS_NCLASSES];
	uint64_t	preflights[METRICS_NDECISIONS];
	uint64_t	upstream_errors[METRICS_UPSTREAM_NERRORS];
	uint64_t	buckets[METRICS_NBUCKETS];
	uint64_t	count;
	double		sum;
	int64_t		open_connections;
};

static struct metrics_slot	 metrics_own;
static struct metrics_slot	*metrics_slots = &metrics_own;
static size_t			 metrics_nslots = 1;
/* The slot this process counts into. */
static struct metrics_slot	*metrics = &metrics_own;


int
metrics_share(size_t nslots)
{
	void	*p;

	p = mmap(NULL, nslots * sizeof(struct metrics_slot),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		return (-1);
	}
	metrics_slots = p;
	metrics_nslots = nslots;
	metrics = &metrics_slots[0];
	return (0);
}


void
metrics_use_slot(size_t slot)
{
	metrics = &metrics_slots[slot < metrics_nslots ? slot : 0];
	/* The counters go on from the worker this one replaces, so they
	 * never go down; its connections died with it. */
	metrics->open_connections = 0;
}


void
metrics_connections(int delta)
{
	metrics->open_connections += delta;
}


/* Adds every slot up into sum. */
static void
metrics_total(struct metrics_slot *sum)
{
	const uint64_t	*from;
	uint64_t	*to;
	size_t		 i, j, nwords;

	memset(sum, 0, sizeof(*sum));
	nwords = offsetof(struct metrics_slot, sum) / sizeof(uint64_t);
	for (i = 0; i < metrics_nslots; i++) {
		from = (const uint64_t *)&metrics_slots[i];
		to = (uint64_t *)sum;
		for (j = 0; j < nwords; j++) {
			to[j] += from[j];
		}
		sum->sum += metrics_slots[i].sum;
		sum->open_connections += metrics_slots[i].open_connections;
	}
}


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
	metrics->requests[d][class]++;
	if (preflight) {
		metrics->preflights[d]++;
	}
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		if (seconds <= metrics_bounds[i]) {
			metrics->buckets[i]++;
		}
	}
	metrics->count++;
	metrics->sum += seconds;
}


void
metrics_upstream_error(enum metrics_upstream_error e)
{
	metrics->upstream_errors[e]++;
}


static void
metrics_render_requests(struct evbuffer *out,
    const struct metrics_slot *t)
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
			    t->requests[d][c]);
		}
	}
	evbuffer_add_printf(out, "# HELP corsproxy_preflights_total "
	    "Preflights, by CORS decision.\n"
	    "# TYPE corsproxy_preflights_total counter\n");
	for (d = 0; d < METRICS_NDECISIONS; d++) {
		evbuffer_add_printf(out, "corsproxy_preflights_total"
		    "{decision=\"%s\"} %" PRIu64 "\n", metrics_decisions[d],
		    t->preflights[d]);
	}
}


static void
metrics_render_duration(struct evbuffer *out,
    const struct metrics_slot *t)
{
	size_t	 i;

	evbuffer_add_printf(out, "# HELP corsproxy_request_duration_seconds "
	    "Time from a request's arrival to the end of its response.\n"
	    "# TYPE corsproxy_request_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		evbuffer_add_printf(out, "corsproxy_request_duration_seconds_"
		    "bucket{le=\"%g\"} %" PRIu64 "\n", metrics_bounds[i],
		    t->buckets[i]);
	}
	evbuffer_add_printf(out, "corsproxy_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} %" PRIu64 "\n"
	    "corsproxy_request_duration_seconds_sum %.6f\n"
	    "corsproxy_request_duration_seconds_count %" PRIu64 "\n",
	    t->count, t->sum, t->count);
}


void
metrics_render(struct evbuffer *out)
{
	struct metrics_slot	 total;
	struct metrics_slot	*t = &total;
	size_t			 e;

	metrics_total(t);
	metrics_render_requests(out, t);
	evbuffer_add_printf(out, "# HELP corsproxy_upstream_errors_total "
	    "Failed upstream attempts, by kind.\n"
	    "# TYPE corsproxy_upstream_errors_total counter\n");
	for (e = 0; e < METRICS_UPSTREAM_NERRORS; e++) {
		evbuffer_add_printf(out, "corsproxy_upstream_errors_total"
		    "{kind=\"%s\"} %" PRIu64 "\n", metrics_errors[e],
		    t->upstream_errors[e]);
	}
	evbuffer_add_printf(out, "# HELP corsproxy_open_connections Client "
	    "connections open now.\n"
	    "# TYPE corsproxy_open_connections gauge\n"
	    "corsproxy_open_connections %" PRId64 "\n", t->open_connections);
	metrics_render_duration(out, t);
}
