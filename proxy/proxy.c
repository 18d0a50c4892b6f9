/*
 * The request path.
 *
 * Each client request becomes a struct exchange that lives until the
 * response is finished or either side is gone.  The exchange decides
 * CORS first, answers preflights and rejections itself, and otherwise
 * sends the request to an upstream server and streams the response
 * back: headers as soon as they arrive, body data as it comes.  When
 * the client reads slower than the upstream writes, reading from the
 * upstream stops until the client's output buffer has drained, so a
 * slow client costs a bounded amount of memory.
 *
 * Lifetime rules that evhttp imposes, and that the code below keeps:
 * - evhttp_send_reply_end() may free the client request at once, so
 *   nothing touches it afterwards;
 * - the close callback belongs to the client connection, so it is
 *   cleared when the exchange ends, or a later close would call it
 *   with a freed exchange;
 * - an upstream request is freed by evhttp after its done callback.
 */
#include <sys/socket.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "client.h"
#include "cors.h"
#include "log.h"
#include "token.h"
#include "metrics.h"
#include "proxy.h"
#include "upstream.h"

/* Stop reading the upstream when this much waits for the client. */
#define PROXY_CLIENT_BUFFER_MAX	(256 * 1024)

struct proxy {
	struct event_base	*base;
	const struct config	*config;
	struct upstream_pool	*pool;
	unsigned		 inflight;
};

struct exchange {
	struct proxy			*proxy;
	struct client_request		*client;
	bool				 client_gone;	/* its connection
							 * closed or is
							 * closing */
	enum evhttp_cmd_type		 cmd;
	const struct config_route	*route;
	struct cors_request		 creq;
	struct cors_result		 cors;
	char				*request_headers; /* ACRH joined */

	struct upstream_server		*server;
	struct upstream_conn		*conn;
	struct evhttp_request		*upstream;	/* in flight, or NULL */
	struct event			*connect_timer;
	struct event			*fail_event;
	enum evhttp_request_error	 upstream_error;
	bool				 upstream_failed;
	bool				 connect_failed;
	bool				 tls_failed;
	char				 tls_error[160];
	bool				 connect_timed_out;
	bool				 preflight_forwarded;
	bool				 reused;	/* conn served before */
	int				 attempts;

	bool				 reply_started;
	bool				 paused;	/* upstream reads off */
	int				 status;
	size_t				 bytes;
	struct timespec			 start;
	char				 client_addr[64];
	char				 method[16];
};

static void	exchange_forward(struct exchange *);


/* ---- small helpers --------------------------------------------------- */

/* evhttp's client sends these methods only; 0 for any other. */
static enum evhttp_cmd_type
proxy_command(const char *method)
{
	static const struct {
		const char		*name;
		enum evhttp_cmd_type	 cmd;
	} methods[] = {
		{ "GET", EVHTTP_REQ_GET },	{ "POST", EVHTTP_REQ_POST },
		{ "HEAD", EVHTTP_REQ_HEAD },	{ "PUT", EVHTTP_REQ_PUT },
		{ "DELETE", EVHTTP_REQ_DELETE },
		{ "OPTIONS", EVHTTP_REQ_OPTIONS },
		{ "TRACE", EVHTTP_REQ_TRACE },	{ "PATCH", EVHTTP_REQ_PATCH },
	};
	size_t	 i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(method, methods[i].name) == 0) {
			return (methods[i].cmd);
		}
	}
	return (0);
}


static bool
proxy_is_idempotent(enum evhttp_cmd_type cmd)
{
	return (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD ||
	    cmd == EVHTTP_REQ_OPTIONS || cmd == EVHTTP_REQ_TRACE);
}


/* Hop-by-hop headers: they describe one connection, not the message. */
static bool
proxy_is_hop_by_hop(const char *name)
{
	static const char *const hop[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "TE",
		"Trailer", "Transfer-Encoding", "Upgrade",
		"Proxy-Authorization", "Expect", NULL
	};
	size_t	 i;

	for (i = 0; hop[i] != NULL; i++) {
		if (strcasecmp(name, hop[i]) == 0) {
			return (true);
		}
	}
	return (false);
}


/* Returns true when a Connection header in headers names name. */
static bool
proxy_connection_names(const struct evkeyvalq *headers, const char *name)
{
	const struct evkeyval	*h;

	TAILQ_FOREACH(h, headers, next) {
		if (strcasecmp(h->key, "Connection") == 0 &&
		    token_list_has(h->value, name)) {
			return (true);
		}
	}
	return (false);
}


static bool
proxy_is_hop_header(const struct evkeyvalq *headers, const char *name)
{
	return (proxy_is_hop_by_hop(name) ||
	    proxy_connection_names(headers, name));
}


static long
proxy_elapsed_us(const struct timespec *start)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - start->tv_sec) * 1000000L +
	    (now.tv_nsec - start->tv_nsec) / 1000);
}


/* ---- the exchange's life --------------------------------------------- */

static const char *
exchange_decision_name(const struct exchange *ex)
{
	if (ex->cors.reported) {
		return ("reported");
	}
	switch (ex->cors.decision) {
	case CORS_NO_ORIGIN:	return ("no-origin");
	case CORS_ALLOWED:	return ("allowed");
	case CORS_DENIED:	return ("denied");
	}
	return ("-");
}


static enum metrics_decision
exchange_metrics_decision(const struct exchange *ex)
{
	if (ex->cors.reported) {
		return (METRICS_REPORTED);
	}
	switch (ex->cors.decision) {
	case CORS_ALLOWED:	return (METRICS_ALLOWED);
	case CORS_DENIED:	return (METRICS_DENIED);
	default:		return (METRICS_NO_ORIGIN);
	}
}


static void
exchange_log(const struct exchange *ex, const char *target)
{
	struct log_access	 a;

	memset(&a, 0, sizeof(a));
	a.client = ex->client_addr;
	a.method = ex->method;
	a.target = target;
	a.status = ex->status;
	a.bytes = ex->bytes;
	a.duration_us = proxy_elapsed_us(&ex->start);
	a.origin = ex->creq.origin;
	a.policy = ex->cors.policy != NULL ? ex->cors.policy->name : NULL;
	a.decision = exchange_decision_name(ex);
	a.upstream = ex->server != NULL ?
	    upstream_server_name(ex->server) : NULL;
	log_access(&a);
	metrics_request(exchange_metrics_decision(ex), ex->status,
	    ex->cors.preflight, a.duration_us);
}


static void
exchange_free(struct exchange *ex)
{
	if (ex->connect_timer != NULL) {
		event_free(ex->connect_timer);
	}
	if (ex->fail_event != NULL) {
		event_free(ex->fail_event);
	}
	cors_result_clear(&ex->cors);
	free(ex->request_headers);
	ex->proxy->inflight--;
	free(ex);
}


/*
 * Ends the exchange: logs it, ends the client's reply, and frees
 * everything.  The upstream request must be finished or cancelled.
 */
static void
exchange_finish(struct exchange *ex)
{
	struct client_request	*client = ex->client;

	exchange_log(ex, client_request_target(client));
	client_set_close_cb(client, NULL, NULL);
	client_set_drained_cb(client, NULL, NULL);
	if (!ex->client_gone && ex->reply_started) {
		client_reply_end(client);
	}
	exchange_free(ex);
}


/* The client connection closed before the exchange ended: a client
 * that went away, or a write that failed.  The request stays readable
 * until this returns. */
static void
exchange_client_closed(struct client_request *client, void *arg)
{
	struct exchange		*ex = arg;

	ex->client_gone = true;
	log_debug("client %s: connection closed before the response "
	    "ended", ex->client_addr);
	if (ex->upstream != NULL) {
		/* Cancelling calls the error callback, not the done one. */
		evhttp_cancel_request(ex->upstream);
		ex->upstream = NULL;
	}
	if (ex->conn != NULL) {
		upstream_release(ex->conn, false);
		ex->conn = NULL;
	}
	exchange_finish(ex);
}


/* ---- responses the proxy makes itself -------------------------------- */

static void
exchange_add_cors_headers(struct exchange *ex, struct evkeyvalq *out)
{
	size_t	 i;

	for (i = 0; i < ex->cors.nheaders; i++) {
		evhttp_add_header(out, ex->cors.headers[i].name,
		    ex->cors.headers[i].value);
	}
}


/* Sends a complete response made by the proxy and ends the exchange. */
static void
exchange_reply(struct exchange *ex, int status, const char *reason,
    const char *content_type, const char *body)
{
	struct client_request	*client = ex->client;
	struct evkeyvalq	*out = client_response_headers(client);
	struct evbuffer		*buf = NULL;

	exchange_add_cors_headers(ex, out);
	if (!ex->cors.preflight) {
		evhttp_add_header(out, "Vary", "Origin");
	}
	if (content_type != NULL) {
		evhttp_add_header(out, "Content-Type", content_type);
	}
	if (body != NULL && (buf = evbuffer_new()) != NULL) {
		evbuffer_add(buf, body, strlen(body));
		ex->bytes = strlen(body);
	}
	ex->status = status;
	client_set_close_cb(client, NULL, NULL);
	exchange_log(ex, client_request_target(client));
	client_reply(client, status, reason, buf);
	if (buf != NULL) {
		evbuffer_free(buf);
	}
	exchange_free(ex);
}


static void
proxy_json_escape(char *dst, size_t len, const char *src)
{
	size_t	 o = 0;

	for (; *src != '\0' && o + 7 < len; src++) {
		unsigned char	 c = (unsigned char)*src;

		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(dst + o, len - o, "\\u%04x", c);
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}


/* evhttp 2.1 knows no phrase past 417 among client errors. */
static const char *
proxy_reason(int status)
{
	switch (status) {
	case 400:	return ("Bad Request");
	case 403:	return ("Forbidden");
	case 417:	return ("Expectation Failed");
	case 413:	return ("Payload Too Large");
	case 431:	return ("Request Header Fields Too Large");
	case 500:	return ("Internal Server Error");
	case 502:	return ("Bad Gateway");
	case 503:	return ("Service Unavailable");
	case 501:	return ("Not Implemented");
	case 504:	return ("Gateway Timeout");
	case 505:	return ("HTTP Version Not Supported");
	}
	return ("Error");
}


/* A proxy-made error: a short JSON body naming it, CORS headers for an
 * allowed origin so the page can read the status. */
static void
exchange_error(struct exchange *ex, int status, const char *error,
    const char *message)
{
	char	 escaped[512], body[700];

	proxy_json_escape(escaped, sizeof(escaped), message);
	snprintf(body, sizeof(body),
	    "{\"error\":\"%s\",\"status\":%d,\"message\":\"%s\"}\n",
	    error, status, escaped);
	exchange_reply(ex, status, proxy_reason(status), "application/json",
	    body);
}


static void
exchange_answer_preflight(struct exchange *ex)
{
	char	 reason[512];

	if (ex->cors.decision == CORS_ALLOWED) {
		exchange_reply(ex, 204, "No Content", NULL, NULL);
		return;
	}
	cors_reason_text(&ex->cors, ex->creq.origin, reason,
	    sizeof(reason) - 2);
	strcat(reason, "\n");
	exchange_reply(ex, 403, "Forbidden", "text/plain; charset=utf-8",
	    reason);
}


/* ---- the upstream request -------------------------------------------- */

static void
exchange_set_host(struct exchange *ex, struct evkeyvalq *out,
    const char *client_host)
{
	const struct config_upstream	*group;
	const char			*host;

	group = &ex->proxy->config->upstreams[ex->route->upstream];
	switch (group->host_mode) {
	case CONFIG_HOST_CLIENT:
		host = client_host;
		break;
	case CONFIG_HOST_FIXED:
		host = group->host_name;
		break;
	default:
		host = NULL;
		break;
	}
	if (host == NULL) {
		host = upstream_server_host(ex->server);
	}
	evhttp_add_header(out, "Host", host);
}


/* Appends the client's address to any X-Forwarded-For it sent. */
static void
exchange_set_forwarded(struct exchange *ex, struct evkeyvalq *out,
    const struct evkeyvalq *in)
{
	const struct evkeyval	*h;
	struct evbuffer		*xff;
	const char		*host;

	if ((xff = evbuffer_new()) == NULL) {
		return;
	}
	TAILQ_FOREACH(h, in, next) {
		if (strcasecmp(h->key, "X-Forwarded-For") == 0) {
			evbuffer_add_printf(xff, "%s, ", h->value);
		}
	}
	evbuffer_add_printf(xff, "%s", ex->client_addr);
	evbuffer_add(xff, "", 1);
	evhttp_add_header(out, "X-Forwarded-For",
	    (const char *)evbuffer_pullup(xff, -1));
	evbuffer_free(xff);

	evhttp_add_header(out, "X-Forwarded-Proto",
	    client_request_tls(ex->client) ? "https" : "http");
	if ((host = evhttp_find_header(in, "Host")) != NULL) {
		evhttp_add_header(out, "X-Forwarded-Host", host);
	}
}


static bool
proxy_is_replaced_request_header(const char *name)
{
	return (strcasecmp(name, "Host") == 0 ||
	    strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "X-Forwarded-For") == 0 ||
	    strcasecmp(name, "X-Forwarded-Proto") == 0 ||
	    strcasecmp(name, "X-Forwarded-Host") == 0);
}


static void
exchange_build_request(struct exchange *ex, struct evhttp_request *ureq)
{
	struct evkeyvalq	*in = client_request_headers(ex->client);
	struct evkeyvalq	*out = evhttp_request_get_output_headers(ureq);
	struct evbuffer		*body = client_request_body(ex->client);
	const struct evkeyval	*h;
	size_t			 len = evbuffer_get_length(body);
	char			 num[32];

	exchange_set_host(ex, out, evhttp_find_header(in, "Host"));
	TAILQ_FOREACH(h, in, next) {
		if (!proxy_is_hop_header(in, h->key) &&
		    !proxy_is_replaced_request_header(h->key)) {
			evhttp_add_header(out, h->key, h->value);
		}
	}
	exchange_set_forwarded(ex, out, in);

	if (len > 0 || evhttp_find_header(in, "Content-Length") != NULL ||
	    evhttp_find_header(in, "Transfer-Encoding") != NULL) {
		snprintf(num, sizeof(num), "%zu", len);
		evhttp_add_header(out, "Content-Length", num);
		/* A reference, not a copy: a retry sends the same body. */
		evbuffer_add_buffer_reference(
		    evhttp_request_get_output_buffer(ureq), body);
	}
}


static void
exchange_stop_timer(struct exchange *ex)
{
	if (ex->connect_timer != NULL) {
		event_del(ex->connect_timer);
	}
}


static void	exchange_connect_timeout(evutil_socket_t, short, void *);
static void	exchange_fail_later(struct exchange *);
static void	exchange_client_drained(struct client_request *, void *);
static void	exchange_upstream_done(struct evhttp_request *, void *);
static int	exchange_upstream_headers(struct evhttp_request *, void *);
static void	exchange_upstream_body(struct evhttp_request *, void *);
static void	exchange_upstream_error(enum evhttp_request_error, void *);


/* Starts the connect deadline for a new connection.  evhttp 2.1 has one
 * timeout for connect and read alike, so the connect deadline is ours. */
static void
exchange_start_connect_timer(struct exchange *ex)
{
	long		 ms = ex->proxy->config->timeouts.upstream_connect;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ex->connect_timer == NULL) {
		ex->connect_timer = evtimer_new(ex->proxy->base,
		    exchange_connect_timeout, ex);
	}
	if (ex->connect_timer != NULL) {
		evtimer_add(ex->connect_timer, &tv);
	}
}


static struct evhttp_request *
exchange_new_upstream_request(struct exchange *ex)
{
	struct evhttp_request	*ureq;

	if ((ureq = evhttp_request_new(exchange_upstream_done, ex)) == NULL) {
		return (NULL);
	}
	evhttp_request_set_header_cb(ureq, exchange_upstream_headers);
	evhttp_request_set_chunked_cb(ureq, exchange_upstream_body);
	evhttp_request_set_error_cb(ureq, exchange_upstream_error);
	exchange_build_request(ex, ureq);
	return (ureq);
}


/*
 * Sends the request to a server of the route's group.  After a failed
 * connect, avoid names the server that failed.  evhttp may call the
 * done callback before evhttp_make_request() returns (an immediate
 * connect error), so nothing here touches ex after that call.
 */
static void
exchange_send(struct exchange *ex, const struct upstream_server *avoid)
{
	struct evhttp_request	*ureq;
	ex->attempts++;
	ex->upstream_failed = false;
	ex->connect_failed = false;
	ex->connect_timed_out = false;
	ex->server = upstream_pick(ex->proxy->pool, ex->route->upstream,
	    avoid);
	if (ex->server == NULL) {
		exchange_error(ex, 503, "service_unavailable",
		    "no upstream server is available");
		return;
	}
	if ((ex->conn = upstream_acquire(ex->server)) == NULL ||
	    (ureq = exchange_new_upstream_request(ex)) == NULL) {
		if (ex->conn != NULL) {
			upstream_release(ex->conn, false);
			ex->conn = NULL;
		}
		exchange_error(ex, 500, "internal_error", "out of memory");
		return;
	}
	ex->reused = ex->conn->requests > 0;
	ex->upstream = ureq;
	if (!ex->reused) {
		exchange_start_connect_timer(ex);
	}
	if (evhttp_make_request(ex->conn->evcon, ureq, ex->cmd,
	    client_request_target(ex->client)) == -1) {
		/* Neither callback runs after this failure. */
		log_error("upstream %s: cannot start a request",
		    upstream_server_name(ex->server));
		ex->upstream = NULL;
		ex->upstream_error = EVREQ_HTTP_BUFFER_ERROR;
		ex->upstream_failed = true;
		exchange_fail_later(ex);
	}
}


static void
exchange_forward(struct exchange *ex)
{
	exchange_send(ex, NULL);
}


/* ---- the upstream's response ----------------------------------------- */

/* Adds each token of value to the list in buf unless already there. */
static void
proxy_vary_add(char *buf, size_t len, const char *value)
{
	const char	*p = value;

	while (*p != '\0') {
		size_t	 n, used = strlen(buf);
		char	 token[128];

		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
			n--;
		}
		if (n > 0 && n < sizeof(token)) {
			memcpy(token, p, n);
			token[n] = '\0';
			if (!token_list_has(buf, token) &&
			    used + n + 3 < len) {
				snprintf(buf + used, len - used, "%s%s",
				    used > 0 ? ", " : "", token);
			}
		}
		p += strcspn(p, ",");
	}
}


/* Lists the response's header names, for expose "*" with credentials,
 * where a literal "*" would not be honoured by browsers. */
static void
exchange_expose_all(struct exchange *ex, const struct evkeyvalq *in,
    struct evkeyvalq *out)
{
	const struct evkeyval	*h;
	char			 names[2048] = "";

	TAILQ_FOREACH(h, in, next) {
		if (!proxy_is_hop_header(in, h->key) &&
		    !cors_is_cors_header(h->key)) {
			proxy_vary_add(names, sizeof(names), h->key);
		}
	}
	if (names[0] != '\0') {
		evhttp_add_header(out, "Access-Control-Expose-Headers", names);
	}
}


static bool
proxy_skip_response_header(const struct evkeyvalq *in, const char *name,
    bool chunked, bool strip_cors)
{
	if (proxy_is_hop_header(in, name) || strcasecmp(name, "Vary") == 0) {
		return (true);
	}
	/* evhttp re-frames a chunked body; a Content-Length beside it
	 * would be a lie. */
	if (chunked && strcasecmp(name, "Content-Length") == 0) {
		return (true);
	}
	return (strip_cors && cors_is_cors_header(name));
}


/*
 * Copies the upstream's response headers to the client's response:
 * hop-by-hop headers dropped, the upstream's own Access-Control-*
 * replaced by the policy's answer, Origin merged into one Vary.
 */
static void
exchange_copy_response_headers(struct exchange *ex,
    struct evhttp_request *ureq)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(ureq);
	struct evkeyvalq	*out;
	const struct evkeyval	*h;
	bool			 chunked, strip_cors;
	char			 vary[1024] = "";

	out = client_response_headers(ex->client);
	chunked = evhttp_find_header(in, "Transfer-Encoding") != NULL;
	strip_cors = ex->creq.origin != NULL && !ex->preflight_forwarded;
	TAILQ_FOREACH(h, in, next) {
		if (strcasecmp(h->key, "Vary") == 0) {
			proxy_vary_add(vary, sizeof(vary), h->value);
		}
		if (!proxy_skip_response_header(in, h->key, chunked,
		    strip_cors)) {
			evhttp_add_header(out, h->key, h->value);
		}
	}
	if (strip_cors) {
		exchange_add_cors_headers(ex, out);
		if (ex->cors.expose_all) {
			exchange_expose_all(ex, in, out);
		}
	}
	if (!ex->preflight_forwarded) {
		proxy_vary_add(vary, sizeof(vary), "Origin");
	}
	if (vary[0] != '\0') {
		evhttp_add_header(out, "Vary", vary);
	}
}


static int
exchange_upstream_headers(struct evhttp_request *ureq, void *arg)
{
	struct exchange	*ex = arg;
	int		 code = evhttp_request_get_response_code(ureq);

	if (code < 200) {
		return (0);	/* an interim response; evhttp reads on */
	}
	exchange_stop_timer(ex);
	exchange_copy_response_headers(ex, ureq);
	ex->status = code;
	ex->reply_started = true;
	client_set_drained_cb(ex->client, exchange_client_drained, ex);
	client_reply_start(ex->client, code,
	    evhttp_request_get_response_code_line(ureq));
	return (0);
}


/* The client's output buffer drained: read the upstream again. */
static void
exchange_client_drained(struct client_request *client, void *arg)
{
	struct exchange	*ex = arg;

	if (ex->paused && ex->conn != NULL) {
		ex->paused = false;
		bufferevent_enable(
		    evhttp_connection_get_bufferevent(ex->conn->evcon),
		    EV_READ);
	}
}


static void
exchange_upstream_body(struct evhttp_request *ureq, void *arg)
{
	struct exchange		*ex = arg;
	struct evbuffer		*in = evhttp_request_get_input_buffer(ureq);

	ex->bytes += evbuffer_get_length(in);
	client_reply_chunk(ex->client, in);
	if (!ex->paused &&
	    client_output_pending(ex->client) > PROXY_CLIENT_BUFFER_MAX) {
		ex->paused = true;
		bufferevent_disable(
		    evhttp_connection_get_bufferevent(ex->conn->evcon),
		    EV_READ);
	}
}


static void
exchange_upstream_error(enum evhttp_request_error error, void *arg)
{
	struct exchange	*ex = arg;

	ex->upstream_error = error;
	ex->upstream_failed = true;
}


static void
exchange_upstream_done(struct evhttp_request *ureq, void *arg)
{
	struct exchange	*ex = arg;

	ex->upstream = NULL;
	exchange_stop_timer(ex);
	if (ureq != NULL && evhttp_request_get_response_code(ureq) != 0) {
		upstream_release(ex->conn, true);
		ex->conn = NULL;
		exchange_finish(ex);
		return;
	}
	if (ureq != NULL) {
		/* A response code of 0 with a request: the connect failed. */
		ex->upstream_error = EVREQ_HTTP_EOF;
		ex->connect_failed = true;
	}
	ex->upstream_failed = true;
	exchange_fail_later(ex);
}


/* ---- failures and retries -------------------------------------------- */

/* The upstream failed after the response started: all the proxy can
 * still say is to close the client connection, so the client sees a
 * cut-short body rather than a complete-looking one. */
static void
exchange_abort_client(struct exchange *ex)
{
	struct client_request	*client = ex->client;

	log_warn("upstream %s: response to %s cut short after %zu bytes",
	    upstream_server_name(ex->server), ex->client_addr, ex->bytes);
	ex->client_gone = true;
	exchange_finish(ex);
	client_abort(client);
}


static bool
exchange_may_retry(const struct exchange *ex)
{
	size_t			 n;

	n = upstream_group_size(ex->proxy->pool, ex->route->upstream);
	if (ex->connect_failed) {
		/* Nothing reached the server: any method may go again. */
		return (ex->attempts < (int)n);
	}
	/* A kept-alive connection the server had closed while idle. */
	return (ex->reused && ex->attempts < (int)n + 1 &&
	    proxy_is_idempotent(ex->cmd) &&
	    evbuffer_get_length(client_request_body(ex->client)) == 0);
}


static void
exchange_failed(struct exchange *ex)
{
	const char	*name = upstream_server_name(ex->server);
	char		 msg[400];

	metrics_upstream_error(ex->connect_timed_out ||
	    ex->upstream_error == EVREQ_HTTP_TIMEOUT ?
	    METRICS_UPSTREAM_TIMEOUT : ex->connect_failed ?
	    METRICS_UPSTREAM_CONNECT : METRICS_UPSTREAM_BROKEN);
	if (ex->reply_started) {
		exchange_abort_client(ex);
		return;
	}
	if (ex->connect_failed) {
		log_warn("upstream %s: connect failed%s", name,
		    ex->connect_timed_out ? ": timed out" : "");
		upstream_mark_failed(ex->server);
	}
	if (exchange_may_retry(ex)) {
		exchange_send(ex, ex->connect_failed ? ex->server : NULL);
		return;
	}
	if (ex->connect_timed_out ||
	    ex->upstream_error == EVREQ_HTTP_TIMEOUT) {
		snprintf(msg, sizeof(msg), "upstream %s did not answer in "
		    "time", name);
		log_warn("%s", msg);
		exchange_error(ex, 504, "gateway_timeout", msg);
		return;
	}
	if (ex->tls_failed) {
		snprintf(msg, sizeof(msg), "upstream %s: TLS failed: %s", name,
		    ex->tls_error);
	} else {
		snprintf(msg, sizeof(msg), ex->connect_failed ?
		    "upstream %s refused or could not be reached" :
		    "upstream %s closed the connection or sent an invalid "
		    "response", name);
	}
	if (!ex->connect_failed) {
		log_warn("%s", msg);
	}
	exchange_error(ex, 502, "bad_gateway", msg);
}


static void
exchange_failed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exchange	*ex = arg;

	if (ex->conn != NULL) {
		ex->tls_failed = upstream_conn_tls_error(ex->conn,
		    ex->tls_error, sizeof(ex->tls_error));
		upstream_release(ex->conn, false);
		ex->conn = NULL;
	}
	exchange_failed(ex);
}


/* Handles a failure from a fresh stack, never inside evhttp's own
 * callbacks, which still use the failed connection afterwards. */
static void
exchange_fail_later(struct exchange *ex)
{
	struct timeval	 now = { 0, 0 };

	if (ex->fail_event == NULL) {
		ex->fail_event = evtimer_new(ex->proxy->base,
		    exchange_failed_cb, ex);
	}
	if (ex->fail_event == NULL || evtimer_add(ex->fail_event, &now)) {
		log_error("cannot schedule the failure of a request");
		exchange_failed_cb(-1, 0, ex);
	}
}


/* Fires at the connect deadline: a connection that is still not
 * established is given up, and the server avoided for a while. */
static void
exchange_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct exchange		*ex = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	evutil_socket_t		 sock;

	if (ex->upstream == NULL || ex->conn == NULL) {
		return;
	}
	sock = bufferevent_getfd(
	    evhttp_connection_get_bufferevent(ex->conn->evcon));
	if (sock != -1 &&
	    getpeername(sock, (struct sockaddr *)&ss, &len) == 0) {
		return;
	}
	evhttp_cancel_request(ex->upstream);
	ex->upstream = NULL;
	ex->connect_failed = true;
	ex->connect_timed_out = true;
	exchange_failed_cb(-1, 0, ex);
}


/* ---- a new request --------------------------------------------------- */

/* Copies a multi-line YAML change onto one line, for the log. */
static void
proxy_one_line(char *dst, size_t len, const char *src)
{
	size_t	 o = 0;

	for (; *src != '\0' && o + 1 < len; src++) {
		if (*src == '\n') {
			dst[o++] = ' ';
			src += strspn(src + 1, " ");
		} else {
			dst[o++] = *src;
		}
	}
	dst[o] = '\0';
}


/* Every denial, and in report mode every would-be denial, is logged
 * once: what was refused, by which policy, and the YAML that would
 * allow it.  A client can cause these, so they are info, escaped. */
static void
exchange_log_denial(struct exchange *ex)
{
	const struct config_route	*r = ex->route;
	struct cors_fix			 fix;
	char				 reason[512], change[700];
	char				 line[2600], escaped[3400];

	cors_reason_text(&ex->cors, ex->creq.origin, reason, sizeof(reason));
	cors_fix_text(&ex->proxy->config->policies,
	    r->all_policies ? NULL : r->policies, r->npolicies, &ex->cors,
	    ex->creq.origin, &fix);
	proxy_one_line(change, sizeof(change), fix.change);
	snprintf(line, sizeof(line), "%s %s %s from %s, origin '%.256s': "
	    "%s; to allow it, %s %s: %s", ex->cors.reported ?
	    "report only: would deny" : "denied", ex->cors.preflight ?
	    "preflight for" : "request", ex->cors.preflight ?
	    ex->creq.request_method : ex->method, ex->client_addr,
	    ex->creq.origin, reason, fix.add ? "add to" : "set in", fix.where,
	    change);
	log_info("cors: %s", log_escape(escaped, sizeof(escaped), line,
	    strlen(line)));
}


/* Collects every Access-Control-Request-Headers line, joined with ",":
 * a browser sends one, but a client may split it. */
static char *
exchange_request_headers(const struct evkeyvalq *in)
{
	const struct evkeyval	*h;
	struct evbuffer		*buf;
	char			*joined = NULL;
	size_t			 len;

	if ((buf = evbuffer_new()) == NULL) {
		return (NULL);
	}
	TAILQ_FOREACH(h, in, next) {
		if (strcasecmp(h->key, "Access-Control-Request-Headers") == 0) {
			evbuffer_add_printf(buf, "%s%s",
			    evbuffer_get_length(buf) > 0 ? "," : "", h->value);
		}
	}
	len = evbuffer_get_length(buf);
	if (len > 0 && (joined = malloc(len + 1)) != NULL) {
		evbuffer_remove(buf, joined, len);
		joined[len] = '\0';
	}
	evbuffer_free(buf);
	return (joined);
}


static int
exchange_decide(struct exchange *ex)
{
	struct evkeyvalq		*in;
	const struct config_route	*r = ex->route;
	const char			*pn;

	in = client_request_headers(ex->client);
	ex->creq.method = ex->method;
	ex->creq.origin = evhttp_find_header(in, "Origin");
	ex->creq.request_method = evhttp_find_header(in,
	    "Access-Control-Request-Method");
	ex->request_headers = exchange_request_headers(in);
	ex->creq.request_headers = ex->request_headers;
	pn = evhttp_find_header(in, "Access-Control-Request-Private-Network");
	ex->creq.request_private_network = pn != NULL &&
	    strcasecmp(pn, "true") == 0;
	return (cors_decide(&ex->proxy->config->policies,
	    r->all_policies ? NULL : r->policies, r->npolicies, &ex->creq,
	    &ex->cors));
}


static struct exchange *
exchange_new(struct proxy *p, struct client_request *req)
{
	struct exchange	*ex;

	if ((ex = calloc(1, sizeof(*ex))) == NULL) {
		return (NULL);
	}
	p->inflight++;
	ex->proxy = p;
	ex->client = req;
	clock_gettime(CLOCK_MONOTONIC, &ex->start);
	snprintf(ex->client_addr, sizeof(ex->client_addr), "%s",
	    client_request_peer(req));
	snprintf(ex->method, sizeof(ex->method), "%s",
	    client_request_method(req));
	ex->cmd = proxy_command(client_request_method(req));
	return (ex);
}


/* The error names of the requests the client module refuses. */
static const char *
proxy_refusal_name(int status)
{
	switch (status) {
	case 413:	return ("payload_too_large");
	case 417:	return ("expectation_failed");
	case 431:	return ("request_header_fields_too_large");
	case 501:	return ("not_implemented");
	case 505:	return ("http_version_not_supported");
	}
	return ("bad_request");
}


/* Answers a request itself, or forwards it. */
static void
exchange_start(struct exchange *ex, int refused, const char *message)
{
	if (ex->cors.decision == CORS_DENIED || ex->cors.reported) {
		exchange_log_denial(ex);
	}
	if (refused != 0) {
		exchange_error(ex, refused, proxy_refusal_name(refused),
		    message);
		return;
	}
	if (ex->cors.preflight) {
		/* In report mode an origin no policy knows is left to the
		 * backend, as if the proxy added no CORS at all. */
		if (ex->route->preflight == CONFIG_PREFLIGHT_ANSWER &&
		    !(ex->cors.reported &&
		    ex->cors.decision == CORS_DENIED)) {
			exchange_answer_preflight(ex);
			return;
		}
		ex->preflight_forwarded = true;
	}
	if (ex->cors.reject) {
		exchange_error(ex, 403, "origin_not_allowed",
		    "this origin is not allowed to call this server");
		return;
	}
	if (ex->cmd == 0) {
		exchange_error(ex, 501, "not_implemented",
		    "the proxy cannot forward this method");
		return;
	}
	exchange_forward(ex);
}


void
proxy_handle(struct client_request *req, int refused, const char *message,
    void *arg)
{
	struct proxy		*p = arg;
	struct exchange		*ex;
	struct evkeyvalq	*in = client_request_headers(req);

	if ((ex = exchange_new(p, req)) == NULL) {
		client_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	ex->route = config_route_match(p->config, client_request_target(req),
	    evhttp_find_header(in, "Host"));
	if (exchange_decide(ex) == -1) {
		exchange_error(ex, 500, "internal_error", "out of memory");
		return;
	}
	client_set_close_cb(req, exchange_client_closed, ex);
	exchange_start(ex, refused, message);
}


/* ---- the proxy -------------------------------------------------------- */

struct proxy *
proxy_new(struct event_base *base, const struct config *config,
    char *errbuf, size_t len)
{
	struct proxy	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(errbuf, len, "out of memory");
		return (NULL);
	}
	p->base = base;
	p->config = config;
	if ((p->pool = upstream_pool_new(base, config, errbuf, len)) == NULL) {
		free(p);
		return (NULL);
	}
	return (p);
}


void
proxy_free(struct proxy *p)
{
	if (p == NULL) {
		return;
	}
	upstream_pool_free(p->pool);
	free(p);
}


unsigned
proxy_inflight(const struct proxy *p)
{
	return (p->inflight);
}
