/*
 * Upstream pools.
 *
 * Each server keeps a list of idle keep-alive connections.  evhttp
 * would quietly reconnect a connection whose peer closed it, but an
 * HTTPS connection cannot be reconnected with the same SSL object, so
 * a connection the peer closed is never reused: its close callback
 * marks it, and it is freed when it is next handed back or taken out
 * of the idle list.  Frees are deferred to a zero timer because evhttp
 * touches the connection again after calling us.
 */
#include <sys/socket.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "upstream.h"

#define UPSTREAM_IDLE_MAX	64	/* idle connections per server */
#define UPSTREAM_FAIL_SECONDS	10	/* how long a failed server rests */
#define UPSTREAM_IO_MAX		(256 * 1024)	/* bytes a read or write */

struct upstream_server {
	struct upstream_pool		*pool;
	const struct config_server	*conf;
	const struct config_upstream	*group;
	SSL_CTX				*ssl_ctx;	/* shared, TLS only */
	char				 address[64];	/* numeric, resolved */
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
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(s->conf->host, NULL, &hints, &res)) != 0) {
		snprintf(errbuf, len, "upstream %s: cannot resolve %s: %s",
		    s->conf->url, s->conf->host, gai_strerror(rc));
		return (-1);
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, s->address,
	    sizeof(s->address), NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0) {
		snprintf(errbuf, len, "upstream %s: %s", s->conf->url,
		    gai_strerror(rc));
		return (-1);
	}
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
	/* Freeing a connected evcon calls its close callback: not now. */
	evhttp_connection_set_closecb(c->evcon, NULL, NULL);
	evhttp_connection_free(c->evcon);
	free(c);
}


static void
upstream_conn_free_later_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_conn_destroy(arg);
}


static void
upstream_conn_free_later(struct upstream_conn *c)
{
	struct timeval	 now = { 0, 0 };

	if (event_base_once(c->server->pool->base, -1, EV_TIMEOUT,
	    upstream_conn_free_later_cb, c, &now) == -1) {
		log_error("upstream %s: cannot schedule a connection free",
		    c->server->name);
	}
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


/* The peer closed the connection, or evhttp reset it after an error. */
static void
upstream_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct upstream_conn	*c = arg;
	struct upstream_server	*s = c->server;
	struct upstream_conn	**p;

	c->closed = true;
	for (p = &s->idle; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			s->nidle--;
			upstream_conn_free_later(c);
			return;
		}
	}
}


static struct bufferevent *
upstream_tls_bufferevent(struct upstream_server *s)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(s->ssl_ctx)) == NULL) {
		return (NULL);
	}
	SSL_set_tlsext_host_name(ssl, s->conf->host);
	SSL_set1_host(ssl, s->conf->host);
	bev = bufferevent_openssl_socket_new(s->pool->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return (NULL);
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}


static struct upstream_conn *
upstream_conn_new(struct upstream_server *s)
{
	const struct config_timeouts	*t = &s->pool->config->timeouts;
	struct upstream_conn		*c;
	struct bufferevent		*bev = NULL;
	struct timeval			 tv;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (NULL);
	}
	if (s->conf->tls && (bev = upstream_tls_bufferevent(s)) == NULL) {
		free(c);
		return (NULL);
	}
	c->evcon = evhttp_connection_base_bufferevent_new(s->pool->base,
	    NULL, bev, s->address, (unsigned short)s->conf->port);
	if (c->evcon == NULL) {
		free(c);
		return (NULL);
	}
	c->server = s;
	tv.tv_sec = t->upstream_read / 1000;
	tv.tv_usec = (t->upstream_read % 1000) * 1000;
	evhttp_connection_set_timeout_tv(c->evcon, &tv);
	evhttp_connection_set_retries(c->evcon, 0);
	bev = evhttp_connection_get_bufferevent(c->evcon);
	bufferevent_set_max_single_read(bev, UPSTREAM_IO_MAX);
	bufferevent_set_max_single_write(bev, UPSTREAM_IO_MAX);
	evhttp_connection_set_closecb(c->evcon, upstream_conn_closed, c);
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
		upstream_conn_free_later(c);
	}
	return (upstream_conn_new(s));
}


void
upstream_release(struct upstream_conn *c, bool reusable)
{
	struct upstream_server	*s = c->server;

	c->requests++;
	if (!reusable || c->closed || s->nidle >= UPSTREAM_IDLE_MAX) {
		upstream_conn_free_later(c);
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


bool
upstream_conn_tls_error(struct upstream_conn *c, char *buf, size_t len)
{
	struct bufferevent	*bev;
	SSL			*ssl;
	unsigned long		 err;
	long			 verify;

	if (!c->server->conf->tls ||
	    (bev = evhttp_connection_get_bufferevent(c->evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL) {
		return (false);
	}
	if ((verify = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "certificate not trusted: %s",
		    X509_verify_cert_error_string(verify));
		return (true);
	}
	if ((err = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(err, buf, len);
		return (true);
	}
	return (false);
}
