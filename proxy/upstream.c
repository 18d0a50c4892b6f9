/*
 * Upstream pools.
 *
 * Each server keeps a list of idle keep-alive connections (upconn.c).
 * A connection the server closes while idle leaves the list at once;
 * one that cannot carry another request is freed when handed back.
 * Freeing one inside its own callbacks is safe: upconn.c touches
 * nothing after its last callback for a request.
 */
#include <sys/socket.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "log.h"
#include "upconn.h"
#include "upstream.h"

#define UPSTREAM_IDLE_MAX	64	/* idle connections per server */
#define UPSTREAM_FAIL_SECONDS	10	/* how long a failed server rests */
#define UPSTREAM_HEAD_MAX	(64 * 1024)	/* a response head */

struct upstream_server {
	struct upstream_pool		*pool;
	const struct config_server	*conf;
	const struct config_upstream	*group;
	SSL_CTX				*ssl_ctx;	/* shared, TLS only */
	struct sockaddr_storage		 addr;		/* resolved */
	socklen_t			 addrlen;
	char				 name[300];	/* host:port for logs */
	char				 host[300];	/* Host header value */
	struct upstream_conn		*idle;
	size_t				 nidle;
	time_t				 failed_until;
};

struct upstream_group {
	struct upstream_server	*servers;
	size_t			 nservers;
	size_t			 next;		/* round robin */
	SSL_CTX			*ssl_ctx;
};

struct upstream_pool {
	struct event_base	*base;
	const struct config	*config;
	struct upstream_group	*groups;
	size_t			 ngroups;
};


static SSL_CTX *
upstream_ssl_ctx(const struct config_upstream *group, char *errbuf,
    size_t len)
{
	SSL_CTX	*ctx;
	int	 ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(errbuf, len, "cannot create a TLS context");
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (group->ca_file != NULL) {
		ok = SSL_CTX_load_verify_locations(ctx, group->ca_file, NULL);
	} else {
		ok = SSL_CTX_set_default_verify_paths(ctx);
	}
	if (ok != 1) {
		snprintf(errbuf, len, "upstream %s: cannot load CA %s",
		    group->name, group->ca_file ? group->ca_file :
		    "system store");
		SSL_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
}


/* Resolves the server's host once, at start-up, so no request waits on
 * a blocking lookup. */
static int
upstream_resolve(struct upstream_server *s, char *errbuf, size_t len)
{
	struct addrinfo	 hints, *res;
	char		 port[16];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", s->conf->port);
	if ((rc = getaddrinfo(s->conf->host, port, &hints, &res)) != 0) {
		snprintf(errbuf, len, "upstream %s: cannot resolve %s: %s",
		    s->conf->url, s->conf->host, gai_strerror(rc));
		return (-1);
	}
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}


static void
upstream_server_names(struct upstream_server *s)
{
	const struct config_server	*c = s->conf;
	bool				 v6 = strchr(c->host, ':') != NULL;
	bool				 dflt;

	dflt = c->port == (c->tls ? 443 : 80);
	snprintf(s->name, sizeof(s->name), v6 ? "[%s]:%d" : "%s:%d",
	    c->host, c->port);
	if (dflt) {
		snprintf(s->host, sizeof(s->host), v6 ? "[%s]" : "%s",
		    c->host);
	} else {
		snprintf(s->host, sizeof(s->host), "%s", s->name);
	}
}


static int
upstream_group_init(struct upstream_pool *pool, struct upstream_group *g,
    const struct config_upstream *conf, char *errbuf, size_t len)
{
	size_t	 i;

	g->servers = calloc(conf->nservers, sizeof(*g->servers));
	if (g->servers == NULL) {
		snprintf(errbuf, len, "out of memory");
		return (-1);
	}
	g->nservers = conf->nservers;
	for (i = 0; i < conf->nservers; i++) {
		struct upstream_server	*s = &g->servers[i];

		s->pool = pool;
		s->conf = &conf->servers[i];
		s->group = conf;
		upstream_server_names(s);
		if (upstream_resolve(s, errbuf, len) == -1) {
			return (-1);
		}
		if (s->conf->tls && g->ssl_ctx == NULL) {
			g->ssl_ctx = upstream_ssl_ctx(conf, errbuf, len);
			if (g->ssl_ctx == NULL) {
				return (-1);
			}
		}
		s->ssl_ctx = g->ssl_ctx;
	}
	return (0);
}


struct upstream_pool *
upstream_pool_new(struct event_base *base, const struct config *config,
    char *errbuf, size_t len)
{
	struct upstream_pool	*pool;
	size_t			 i;

	if ((pool = calloc(1, sizeof(*pool))) == NULL ||
	    (pool->groups = calloc(config->nupstreams,
	    sizeof(*pool->groups))) == NULL) {
		free(pool);
		snprintf(errbuf, len, "out of memory");
		return (NULL);
	}
	pool->base = base;
	pool->config = config;
	pool->ngroups = config->nupstreams;
	for (i = 0; i < config->nupstreams; i++) {
		if (upstream_group_init(pool, &pool->groups[i],
		    &config->upstreams[i], errbuf, len) == -1) {
			upstream_pool_free(pool);
			return (NULL);
		}
	}
	return (pool);
}


static void
upstream_conn_destroy(struct upstream_conn *c)
{
	upconn_free(c->conn);
	free(c);
}


void
upstream_pool_free(struct upstream_pool *pool)
{
	size_t	 i, j;

	if (pool == NULL) {
		return;
	}
	for (i = 0; i < pool->ngroups; i++) {
		struct upstream_group	*g = &pool->groups[i];

		for (j = 0; g->servers != NULL && j < g->nservers; j++) {
			struct upstream_conn	*c, *next;

			for (c = g->servers[j].idle; c != NULL; c = next) {
				next = c->next;
				upstream_conn_destroy(c);
			}
		}
		free(g->servers);
		SSL_CTX_free(g->ssl_ctx);
	}
	free(pool->groups);
	free(pool);
}


struct upstream_server *
upstream_pick(struct upstream_pool *pool, size_t group,
    const struct upstream_server *avoid)
{
	struct upstream_group	*g = &pool->groups[group];
	time_t			 now = time(NULL);
	size_t			 i;

	for (i = 0; i < g->nservers; i++) {
		struct upstream_server	*s;

		s = &g->servers[(g->next + i) % g->nservers];
		if (s != avoid && s->failed_until <= now) {
			g->next = (g->next + i + 1) % g->nservers;
			return (s);
		}
	}
	return (NULL);
}


/* An idle connection ended: the server closed it, or it idled too
 * long. */
static void
upstream_conn_closed(struct upconn *uc, void *arg)
{
	struct upstream_conn	*c = arg;
	struct upstream_server	*s = c->server;
	struct upstream_conn	**p;

	(void)uc;

	c->closed = true;
	for (p = &s->idle; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			s->nidle--;
			upstream_conn_destroy(c);
			return;
		}
	}
}


static struct upstream_conn *
upstream_conn_new(struct upstream_server *s)
{
	const struct config	*conf = s->pool->config;
	struct upconn_settings	 set;
	struct upstream_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (NULL);
	}
	memset(&set, 0, sizeof(set));
	set.base = s->pool->base;
	set.addr = (struct sockaddr *)&s->addr;
	set.addrlen = s->addrlen;
	set.ssl_ctx = s->conf->tls ? s->ssl_ctx : NULL;
	set.tls_name = s->conf->host;
	set.connect_tv = upconn_timeout(set.base,
	    conf->timeouts.upstream_connect);
	set.read_tv = upconn_timeout(set.base, conf->timeouts.upstream_read);
	set.header_max = UPSTREAM_HEAD_MAX;
	if ((c->conn = upconn_new(&set, upstream_conn_closed, c)) == NULL) {
		free(c);
		return (NULL);
	}
	c->server = s;
	return (c);
}


struct upstream_conn *
upstream_acquire(struct upstream_server *s)
{
	struct upstream_conn	*c;

	while ((c = s->idle) != NULL) {
		s->idle = c->next;
		s->nidle--;
		c->next = NULL;
		if (!c->closed) {
			return (c);
		}
		upstream_conn_destroy(c);
	}
	return (upstream_conn_new(s));
}


void
upstream_release(struct upstream_conn *c, bool reusable)
{
	struct upstream_server	*s = c->server;

	c->requests++;
	if (!reusable || c->closed || !upconn_reusable(c->conn) ||
	    s->nidle >= UPSTREAM_IDLE_MAX) {
		upstream_conn_destroy(c);
		return;
	}
	c->next = s->idle;
	s->idle = c;
	s->nidle++;
}


void
upstream_mark_failed(struct upstream_server *s)
{
	if (s->group->nservers > 1) {
		s->failed_until = time(NULL) + UPSTREAM_FAIL_SECONDS;
	}
}


const char *
upstream_server_name(const struct upstream_server *s)
{
	return (s->name);
}


const char *
upstream_server_host(const struct upstream_server *s)
{
	return (s->host);
}


size_t
upstream_group_size(const struct upstream_pool *pool, size_t group)
{
	return (pool->groups[group].nservers);
}
