/*
 * The server: one event loop, its listeners, the client connections
 * (client.c) and the request path (proxy.c), and the signals that stop
 * it.  Listeners are bound with our own evconnlistener so the backlog
 * is ours and a port of 0 (the tests' way to get a free port) can be
 * reported back.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "admin.h"
#include "client.h"
#include "confvalue.h"
#include "log.h"
#include "proxy.h"
#include "server.h"

#define SERVER_BACKLOG		1024
#define SERVER_LINE_MAX		4096

struct server {
	const struct config		 *config;
	struct event_base		 *base;
	struct client_server		 *clients;
	struct client_server		 *admin;
	struct proxy			 *proxy;
	struct event			 *sigterm;
	struct event			 *sigint;
	struct event			 *drain_timer;
	struct timeval			  drain_deadline;
	int				  status;
};


static struct evconnlistener *
server_listen(struct server *s, const struct config_listen *l)
{
	struct addrinfo		 hints, *res;
	struct evconnlistener	*lev;
	char			 port[16];
	int			 rc;

	/* XXX TLS listeners are not implemented: rather than serve plain
	 * HTTP on a port meant for HTTPS, the proxy refuses to start. */
	if (l->cert != NULL) {
		log_error("listen %s:%d: TLS listeners are not implemented in "
		    "this version", l->host, l->port);
		return (NULL);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", l->port);
	if ((rc = getaddrinfo(l->host, port, &hints, &res)) != 0) {
		log_error("listen %s:%d: %s", l->host, l->port,
		    gai_strerror(rc));
		return (NULL);
	}
	lev = evconnlistener_new_bind(s->base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    SERVER_BACKLOG, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (lev == NULL) {
		log_error("listen %s:%d: %s", l->host, l->port,
		    strerror(errno));
		return (NULL);
	}
	return (lev);
}


/* Writes "http://host:port" of a bound listener, with the port the
 * kernel chose when the config asked for port 0. */
static void
server_bound_name(struct evconnlistener *lev, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN] = "?";
	char			 port[8] = "?";

	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss,
	    &sslen) == 0) {
		getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host),
		    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "http://[%s]:%s" :
	    "http://%s:%s", host, port);
}


/* Appends text to the list in line, separated by sep. */
static void
server_append(char *line, size_t len, const char *sep, const char *text)
{
	size_t	 used = strlen(line);

	snprintf(line + used, len - used, "%s%s", used > 0 ? sep : "", text);
}


/* "listening on ...; forwarding to ...; allowing origins ...", built
 * in memory and written at once so it stays one line. */
static void
server_print_ready(struct server *s, const char *listening)
{
	const struct config	*c = s->config;
	const struct policy_set	*ps = &c->policies;
	const char		*sep = "";
	char			*line = NULL;
	size_t			 len = 0, i, j;
	FILE			*f;

	if ((f = open_memstream(&line, &len)) == NULL) {
		return;
	}
	fprintf(f, "corsproxy %s: listening on %s; forwarding to ",
	    CORSPROXY_VERSION, listening);
	for (i = 0; i < c->nupstreams; i++) {
		for (j = 0; j < c->upstreams[i].nservers; j++, sep = ", ") {
			fprintf(f, "%s%s", sep, c->upstreams[i].servers[j].url);
		}
	}
	if (ps->count == 1) {
		fprintf(f, "; allowing origins ");
		for (i = 0; i < ps->policies[0].norigins; i++) {
			fprintf(f, "%s%s", i > 0 ? ", " : "",
			    ps->policies[0].origins[i].text);
		}
	} else {
		fprintf(f, "; applying %zu policies%s%s%s", ps->count,
		    ps->file ? " from " : "", ps->file ? ps->file : "",
		    ps->mode == POLICY_REPORT ? " (report only)" : "");
	}
	fputc('\n', f);
	fclose(f);
	fputs(line, stderr);
	free(line);
}


/* The admin address gets its own listener and connections, so a flood
 * of proxied traffic cannot starve health checks of connections. */
static int
server_bind_admin(struct server *s, char *line, size_t len)
{
	struct config_listen	 l;
	struct evconnlistener	*lev;
	char			 name[128];

	memset(&l, 0, sizeof(l));
	if (confvalue_parse_hostport(s->config->admin, &l.host,
	    &l.port) == -1) {
		log_error("admin %s: not HOST:PORT", s->config->admin);
		return (-1);
	}
	s->admin = client_server_new(s->base, s->config, admin_handle,
	    s->clients);
	lev = s->admin != NULL ? server_listen(s, &l) : NULL;
	free(l.host);
	if (lev == NULL || client_server_listen(s->admin, lev) == -1) {
		return (-1);
	}
	server_bound_name(lev, name, sizeof(name));
	server_append(line, len, "", "; admin on ");
	server_append(line, len, "", name);
	return (0);
}


static int
server_bind_all(struct server *s)
{
	char	 listening[SERVER_LINE_MAX] = "";
	char	 name[128];
	size_t	 i;

	for (i = 0; i < s->config->nlistens; i++) {
		struct evconnlistener	*lev;

		if ((lev = server_listen(s, &s->config->listens[i])) == NULL) {
			return (-1);
		}
		server_bound_name(lev, name, sizeof(name));
		if (client_server_listen(s->clients, lev) == -1) {
			log_error("out of memory");
			return (-1);
		}
		server_append(listening, sizeof(listening), ", ", name);
	}
	if (s->config->admin != NULL && server_bind_admin(s, listening,
	    sizeof(listening)) == -1) {
		return (-1);
	}
	server_print_ready(s, listening);
	return (0);
}


/* ---- stopping ---------------------------------------------------------- */

static void
server_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct server	*s = arg;
	struct timeval	 now, tick = { 0, 50 * 1000 };
	unsigned	 left = proxy_inflight(s->proxy);

	event_base_gettimeofday_cached(s->base, &now);
	if (left == 0) {
		log_info("all requests finished; exiting");
		event_base_loopexit(s->base, NULL);
		return;
	}
	if (evutil_timercmp(&now, &s->drain_deadline, >=)) {
		log_warn("shutdown timeout: %u requests still in flight are "
		    "cut off", left);
		event_base_loopexit(s->base, NULL);
		return;
	}
	evtimer_add(s->drain_timer, &tick);
}


/* Stops accepting and lets the requests in flight finish. */
static void
server_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server	*s = arg;
	long		 ms = s->config->timeouts.shutdown;
	struct timeval	 now, limit = { ms / 1000, (ms % 1000) * 1000 };

	if (s->drain_timer != NULL) {
		log_warn("second signal: exiting now");
		event_base_loopexit(s->base, NULL);
		return;
	}
	log_info("%s: no longer accepting; finishing %u requests in flight",
	    strsignal((int)sig), proxy_inflight(s->proxy));
	client_server_stop(s->clients);
	client_server_stop(s->admin);
	event_base_gettimeofday_cached(s->base, &now);
	evutil_timeradd(&now, &limit, &s->drain_deadline);
	s->drain_timer = evtimer_new(s->base, server_drain_check, s);
	if (s->drain_timer == NULL) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	server_drain_check(-1, 0, s);
}


static void
server_free(struct server *s)
{
	if (s->drain_timer != NULL) {
		event_free(s->drain_timer);
	}
	if (s->sigterm != NULL) {
		event_free(s->sigterm);
	}
	if (s->sigint != NULL) {
		event_free(s->sigint);
	}
	client_server_free(s->admin);
	client_server_free(s->clients);
	proxy_free(s->proxy);
	if (s->base != NULL) {
		event_base_free(s->base);
	}
}


/* With the changelist, an event enabled and disabled again within one
 * loop iteration costs no epoll_ctl at all; a proxy does that for
 * every request on both of its connections. */
static struct event_base *
server_event_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL) {
		return (NULL);
	}
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return (base);
}


static int
server_setup(struct server *s)
{
	char	 errbuf[512];

	if ((s->base = server_event_base()) == NULL) {
		log_error("cannot create the event loop");
		return (-1);
	}
	if ((s->proxy = proxy_new(s->base, s->config, errbuf,
	    sizeof(errbuf))) == NULL) {
		log_error("%s", errbuf);
		return (-1);
	}
	if ((s->clients = client_server_new(s->base, s->config,
	    proxy_handle, s->proxy)) == NULL) {
		log_error("out of memory");
		return (-1);
	}
	s->sigterm = evsignal_new(s->base, SIGTERM, server_signal, s);
	s->sigint = evsignal_new(s->base, SIGINT, server_signal, s);
	if (s->sigterm == NULL || s->sigint == NULL ||
	    evsignal_add(s->sigterm, NULL) == -1 ||
	    evsignal_add(s->sigint, NULL) == -1) {
		log_error("cannot watch for signals");
		return (-1);
	}
	return (server_bind_all(s));
}


/*
 * XXX The configuration's workers count is read and validated, but the
 * proxy serves from this one process and event loop: the master and its
 * worker processes (one per CPU by default) are not written yet.
 */
int
server_run(const struct config *config)
{
	struct server	 s;

	memset(&s, 0, sizeof(s));
	s.config = config;
	signal(SIGPIPE, SIG_IGN);
	if (server_setup(&s) == -1) {
		server_free(&s);
		return (1);
	}
	event_base_dispatch(s.base);
	server_free(&s);
	return (0);
}
