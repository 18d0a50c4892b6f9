/*
 * Upstream pools: the servers of each upstream group, the keep-alive
 * connections to them, and the choice of a server for a request.
 *
 * One pool per worker process.  A connection (upconn.c) carries one
 * request at a time; between requests it waits in its server's idle
 * list.  A server that refused or timed
 * out a connect is avoided for a while.
 */
#ifndef CORSPROXY_UPSTREAM_H
#define CORSPROXY_UPSTREAM_H

#include <stdbool.h>

#include "config.h"

struct event_base;
struct upconn;
struct upstream_pool;
struct upstream_server;

struct upstream_conn {
	struct upconn			*conn;
	struct upstream_server		*server;
	struct upstream_conn		*next;		/* in the idle list */
	unsigned			 requests;	/* served so far */
	bool				 closed;	/* peer closed it */
};

/* Builds the pool for config: resolves every server's address once.
 * Returns NULL with a message in errbuf. */
struct upstream_pool	*upstream_pool_new(struct event_base *,
			    const struct config *, char *errbuf, size_t len);

/* Frees the pool and every idle connection; NULL does nothing.  No
 * connection may be in use. */
void			 upstream_pool_free(struct upstream_pool *);

/*
 * Picks a server of group by round robin, skipping servers marked
 * failed and the server avoid (may be NULL).  Returns NULL when no
 * server is left.
 */
struct upstream_server	*upstream_pick(struct upstream_pool *, size_t group,
			    const struct upstream_server *avoid);

/* Returns an idle connection to server or a new one; NULL when out of
 * memory.  The caller hands it back with upstream_release(). */
struct upstream_conn	*upstream_acquire(struct upstream_server *);

/* Takes a connection back: kept idle when reusable and still open,
 * freed at once otherwise, ending any request it still carries
 * without a callback. */
void			 upstream_release(struct upstream_conn *,
			    bool reusable);

/* A connect to server failed or timed out: avoid it for a while. */
void			 upstream_mark_failed(struct upstream_server *);

/* Returns "host:port" of the server, for logs. */
const char		*upstream_server_name(const struct upstream_server *);

/* Returns the value of the Host header to send to the server. */
const char		*upstream_server_host(const struct upstream_server *);

/* Returns the number of servers in group. */
size_t			 upstream_group_size(const struct upstream_pool *,
			    size_t group);

#endif
