/*
 * The server: it binds the listeners, then serves them from one event
 * loop in this process or, with more than one worker, has master.c
 * fork the workers that do.  A worker's loop runs the client
 * connections (client.c), the request path (proxy.c) and the admin
 * address, until SIGTERM or SIGINT (alone) or its master (as a worker)
 * says to stop.  Sockets are bound here rather than by evconnlistener
 * so the backlog is ours, every worker shares them, and a port of 0
 * (the tests' way to get a free port) can be reported back.
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
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "admin.h"
#include "client.h"
#include "confvalue.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "proxy.h"
#include "server.h"

#define SERVER_BACKLOG		1024
#define SERVER_LINE_MAX		4096

struct server {
	const struct config		 *config;
	int				 *listen_fds;
	size_t				  nlisten;
	int				  admin_fd;	/* -1: none */
	int				  stop_fd;	/* -1: stopped by
							 * signals */
	struct event_base		 *base;
	struct client_server		 *clients;
	struct client_server		 *admin;
	struct proxy			 *proxy;
	struct event			 *sigterm;
	struct event			 *sigint;
	struct event			 *stop_event;
	struct event			 *drain_timer;
	struct timeval			  drain_deadline;
};


/* A listening socket for l, bound before any worker is forked so that
 * all of them accept from it.  Returns the socket, or -1. */
static int
server_socket(const struct config_listen *l)
{
	struct addrinfo	 hints, *res;
	char		 port[16];
	int		 fd, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", l->port);
	if ((rc = getaddrinfo(l->host, port, &hints, &res)) != 0) {
		log_error("listen %s:%d: %s", l->host, l->port,
		    gai_strerror(rc));
		return (-1);
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 || bind(fd, res->ai_addr, res->ai_addrlen) ==
	    -1 || listen(fd, SERVER_BACKLOG) == -1) {
		log_error("listen %s:%d: %s", l->host, l->port,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
		}
		fd = -1;
	}
	freeaddrinfo(res);
	return (fd);
}


/* Writes "http://host:port" of a bound listener, with the port the
 * kernel chose when the config asked for port 0. */
static void
server_bound_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN] = "?";
	char			 port[8] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
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
server_print_ready(struct server *s, const char *listening, size_t nworkers)
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
	if (nworkers > 1) {
		fprintf(f, "; %zu workers", nworkers);
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
	char			 name[128];

	memset(&l, 0, sizeof(l));
	if (confvalue_parse_hostport(s->config->admin, &l.host,
	    &l.port) == -1) {
		log_error("admin %s: not HOST:PORT", s->config->admin);
		return (-1);
	}
	s->admin_fd = server_socket(&l);
	free(l.host);
	if (s->admin_fd == -1) {
		return (-1);
	}
	server_bound_name(s->admin_fd, name, sizeof(name));
	server_append(line, len, "", "; admin on ");
	server_append(line, len, "", name);
	return (0);
}


/* Binds every listener and the admin address; fills listening with
 * their names for the start-up line. */
static int
server_bind_all(struct server *s, char *listening, size_t len)
{
	const struct config	*c = s->config;
	char			 name[128];
	size_t			 i;

	/* XXX TLS listeners are not implemented: rather than serve plain
	 * HTTP on a port meant for HTTPS, the proxy refuses to start. */
	for (i = 0; i < c->nlistens; i++) {
		if (c->listens[i].cert != NULL) {
			log_error("listen %s:%d: TLS listeners are not "
			    "implemented in this version", c->listens[i].host,
			    c->listens[i].port);
			return (-1);
		}
	}
	if ((s->listen_fds = calloc(c->nlistens, sizeof(int))) == NULL) {
		log_error("out of memory");
		return (-1);
	}
	for (i = 0; i < c->nlistens; i++) {
		if ((s->listen_fds[i] = server_socket(&c->listens[i])) == -1) {
			return (-1);
		}
		s->nlisten++;
		server_bound_name(s->listen_fds[i], name, sizeof(name));
		server_append(listening, len, ", ", name);
	}
	if (c->admin != NULL && server_bind_admin(s, listening, len) == -1) {
		return (-1);
	}
	return (0);
}


/* Serves fd with clients.  The listener owns fd from here on: freeing
 * it, when the server stops accepting, closes it. */
static int
server_accept_on(struct server *s, struct client_server *clients, int fd)
{
	struct evconnlistener	*lev;

	lev = evconnlistener_new(s->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (lev == NULL || client_server_listen(clients, lev) == -1) {
		log_error("listen: cannot watch the listening socket");
		return (-1);
	}
	return (0);
}


/* ---- stopping ---------------------------------------------------------- */

static void
server_drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct server	*s = arg;
	struct timeval	 now, tick = { 0, 50 * 1000 };
	unsigned	 left = proxy_inflight(s->proxy);

	(void)fd;
	(void)what;

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


/* Stops accepting and lets the requests in flight finish; why says
 * what asked for it. */
static void
server_drain(struct server *s, const char *why)
{
	long		 ms = s->config->timeouts.shutdown;
	struct timeval	 now, limit = { ms / 1000, (ms % 1000) * 1000 };

	if (s->drain_timer != NULL) {
		log_warn("%s again: exiting now", why);
		event_base_loopexit(s->base, NULL);
		return;
	}
	log_info("%s: no longer accepting; finishing %u requests in flight",
	    why, proxy_inflight(s->proxy));
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
server_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;

	server_drain(arg, strsignal((int)sig));
}


/* A worker's pipe from the master reads end of file: the master was
 * told to stop, or is gone. */
static void
server_master_stop(evutil_socket_t fd, short what, void *arg)
{
	struct server	*s = arg;
	char		 c;

	(void)what;

	if (read(fd, &c, 1) == 0) {
		event_del(s->stop_event);
		server_drain(s, "stop from the master");
	}
}


static void
server_free(struct server *s)
{
	struct event	*events[] = { s->drain_timer, s->sigterm, s->sigint,
			    s->stop_event };
	size_t		 i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (events[i] != NULL) {
			event_free(events[i]);
		}
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


/* Alone, the process stops on SIGTERM or SIGINT; as a worker, when its
 * master closes the pipe. */
static int
server_watch_stop(struct server *s)
{
	if (s->stop_fd != -1) {
		s->stop_event = event_new(s->base, s->stop_fd,
		    EV_READ | EV_PERSIST, server_master_stop, s);
		return (s->stop_event == NULL ||
		    event_add(s->stop_event, NULL) == -1 ? -1 : 0);
	}
	s->sigterm = evsignal_new(s->base, SIGTERM, server_signal, s);
	s->sigint = evsignal_new(s->base, SIGINT, server_signal, s);
	if (s->sigterm == NULL || s->sigint == NULL ||
	    evsignal_add(s->sigterm, NULL) == -1 ||
	    evsignal_add(s->sigint, NULL) == -1) {
		return (-1);
	}
	return (0);
}


static int
server_setup(struct server *s)
{
	char	 errbuf[512];
	size_t	 i;

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
	    proxy_handle, s->proxy)) == NULL ||
	    (s->admin_fd != -1 && (s->admin = client_server_new(s->base,
	    s->config, admin_handle, NULL)) == NULL)) {
		log_error("out of memory");
		return (-1);
	}
	client_server_meter(s->clients);
	if (server_watch_stop(s) == -1) {
		log_error("cannot watch for the signal to stop");
		return (-1);
	}
	for (i = 0; i < s->nlisten; i++) {
		if (server_accept_on(s, s->clients, s->listen_fds[i]) == -1) {
			return (-1);
		}
	}
	if (s->admin_fd != -1) {
		return (server_accept_on(s, s->admin, s->admin_fd));
	}
	return (0);
}


/* Serves on the bound sockets until told to stop; the exit status. */
static int
server_serve(struct server *s)
{
	int	 rc = 0;

	if (server_setup(s) == -1) {
		rc = 1;
	} else {
		event_base_dispatch(s->base);
	}
	server_free(s);
	return (rc);
}


static int
server_worker(size_t slot, int stop_fd, void *arg)
{
	struct server	*s = arg;

	s->stop_fd = stop_fd;
	metrics_use_slot(slot);
	return (server_serve(s));
}


static size_t
server_workers(const struct config *c)
{
	long	 n = c->workers;

	if (n == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
	}
	return (n < 1 ? 1 : (size_t)n);
}


/* The master closes every listening socket when told to stop, the
 * admin address's too; the workers have a second grace period to
 * finish after their own shutdown timeout. */
static int
server_master(struct server *s, size_t nworkers)
{
	long	 grace = s->config->timeouts.shutdown + 2000;
	size_t	 n = s->nlisten;
	int	*fds, rc;

	if ((fds = calloc(n + 1, sizeof(*fds))) == NULL) {
		log_error("out of memory");
		return (1);
	}
	memcpy(fds, s->listen_fds, n * sizeof(*fds));
	if (s->admin_fd != -1) {
		fds[n++] = s->admin_fd;
	}
	rc = master_run(nworkers, grace, server_worker, s, fds, n);
	free(fds);
	return (rc);
}


/*
 * One worker runs in this process.  More get a master (master.c),
 * with the counters of /metrics in memory they share; the listeners
 * are bound first, here, so every worker accepts from the same ones.
 */
int
server_run(const struct config *config)
{
	struct server	 s;
	char		 listening[SERVER_LINE_MAX] = "";
	size_t		 n = server_workers(config);
	int		 rc = 1;

	memset(&s, 0, sizeof(s));
	s.config = config;
	s.admin_fd = -1;
	s.stop_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	if (server_bind_all(&s, listening, sizeof(listening)) == 0) {
		server_print_ready(&s, listening, n);
		if (n == 1) {
			rc = server_serve(&s);
		} else if (metrics_share(n) == -1) {
			log_error("metrics: shared memory: %s",
			    strerror(errno));
		} else {
			rc = server_master(&s, n);
		}
	}
	free(s.listen_fds);
	return (rc);
}
