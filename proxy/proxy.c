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
 * Lifetime rules the code below keeps:
 * - the client module calls the close callback from inside freeing the
 *   connection: the exchange ends there and touches the request no
 *   more once the callback returns; the callback is cleared whenever
 *   the exchange ends by itself;
 * - client_reply_end() and client_reply() end the request: nothing
 *   touches it afterwards;
 * - upconn.c's done and failed callbacks are its last calls for a
 *   request, so the connection may be handed back (and freed) in
 *   them; the drained callback only resumes reading the upstream.
 */
#include <sys/socket.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "client.h"
#include "cors.h"
#include "head.h"
#include "headers.h"
#include "log.h"
#include "token.h"
#include "metrics.h"
#include "proxy.h"
#include "upconn.h"
#include "upstream.h"

/* Stop reading the upstream when this much waits for the client. */
#define PROXY_CLIENT_BUFFER_MAX	(256 * 1024)

struct proxy {
	struct event_base	*base;
	const struct config	*config;
	struct upstream_pool	*pool;
	unsigned		 inflight;
	struct exchange		*spare;		/* freed, kept for the
						 * next request */
};

struct exchange {
	struct proxy			*proxy;
	struct client_request		*client;
	bool				 client_gone;	/* its connection
							 * closed or is
							 * closing */
	const struct config_route	*route;
	struct cors_request		 creq;
	struct cors_result		 cors;
	char				*request_headers; /* ACRH joined */

	struct upstream_server		*server;
	struct upstream_conn		*conn;		/* in use, or NULL */
	bool				 preflight_forwarded;
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
static void	exchange_client_drained(struct client_request *, void *);


/* ---- small helpers --------------------------------------------------- */

/* Copies src into dst, cut to fit. */
static void
proxy_copy(char *dst, size_t len, const char *src)
{
	size_t	 n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}


/* Appends each string up to the NULL to out. */
static void
proxy_add_words(struct evbuffer *out, ...)
{
	va_list		 ap;
	const char	*s;

	va_start(ap, out);
	while ((s = va_arg(ap, const char *)) != NULL) {
		evbuffer_add(out, s, strlen(s));
	}
	va_end(ap);
}


static bool
proxy_is_idempotent(const char *method)
{
	return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	    strcmp(method, "OPTIONS") == 0 || strcmp(method, "TRACE") == 0);
}


/* Hop-by-hop fields: those named so, and those a Connection field of
 * the same message names.  n is headers_name(name). */
static bool
proxy_is_hop_header(const struct head *head, const char *name,
    enum headers_name n)
{
	return (headers_is_hop_by_hop(n) ||
	    head_lists(head, HEADERS_CONNECTION, name));
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
	bool			 forwarded;

	/* A preflight the route sends on is decided by the backend, not
	 * by a policy (a report-mode one sent on for an unknown origin is
	 * still a would-be denial). */
	forwarded = ex->preflight_forwarded &&
	    ex->route->preflight == CONFIG_PREFLIGHT_FORWARD;

	memset(&a, 0, sizeof(a));
	a.client = ex->client_addr;
	a.method = ex->method;
	a.target = target;
	/* 499, as nginx logs it: the client left before the response. */
	a.status = ex->status == 0 && ex->client_gone ? 499 : ex->status;
	a.bytes = ex->bytes;
	a.duration_us = proxy_elapsed_us(&ex->start);
	a.origin = ex->creq.origin;
	a.policy = ex->cors.policy != NULL ? ex->cors.policy->name : NULL;
	a.decision = forwarded ? "forwarded" : exchange_decision_name(ex);
	a.upstream = ex->server != NULL ?
	    upstream_server_name(ex->server) : NULL;
	log_access(&a);
	metrics_request(forwarded ? METRICS_FORWARDED :
	    exchange_metrics_decision(ex), a.status, ex->cors.preflight,
	    a.duration_us);
}


static void
exchange_free(struct exchange *ex)
{
	struct proxy	*p = ex->proxy;

	cors_result_clear(&ex->cors);
	free(ex->request_headers);
	p->inflight--;
	if (p->spare == NULL) {
		p->spare = ex;
	} else {
		free(ex);
	}
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

	(void)client;

	ex->client_gone = true;
	log_debug("client %s: connection closed before the response "
	    "ended", ex->client_addr);
	if (ex->conn != NULL) {
		/* Freeing the connection ends the request: no callback. */
		upstream_release(ex->conn, false);
		ex->conn = NULL;
	}
	exchange_finish(ex);
}


/* ---- responses the proxy makes itself -------------------------------- */

/*
 * Response header lines gathered in a buffer and handed to the client
 * module in one piece with the reply (client_reply_lines() and
 * client_reply_start_lines()), which writes them straight into the
 * output: a response is mostly its head.  Content-Length and Date,
 * which the client module tracks, and lines that no longer fit go
 * ahead through the fields added one by one, which the head carries
 * first, so the order stays as added.
 */
struct proxy_lines {
	struct client_request	*client;
	size_t			 len;
	char			 buf[4096];
};


static void
proxy_lines_flush(struct proxy_lines *l)
{
	if (l->len > 0) {
		client_response_add_lines(l->client, l->buf, l->len);
		l->len = 0;
	}
}


static void
proxy_lines_add(struct proxy_lines *l, enum headers_name n,
    const char *name, const char *value)
{
	size_t	 len;

	if (n != HEADERS_CONTENT_LENGTH && n != HEADERS_DATE) {
		len = headers_line(l->buf + l->len, sizeof(l->buf) - l->len,
		    name, value);
		if (len > 0) {
			l->len += len;
			return;
		}
	}
	/* Tracked, or too long for what is left of the buffer. */
	proxy_lines_flush(l);
	client_response_add(l->client, name, value);
}


static void
exchange_add_cors_headers(struct exchange *ex, struct proxy_lines *l)
{
	size_t	 i;

	/* None of them is Content-Length or Date. */
	for (i = 0; i < ex->cors.nheaders; i++) {
		proxy_lines_add(l, HEADERS_OTHER, ex->cors.headers[i].name,
		    ex->cors.headers[i].value);
	}
}


/* Sends a complete response made by the proxy and ends the exchange. */
static void
exchange_reply(struct exchange *ex, int status, const char *reason,
    const char *content_type, const char *body)
{
	struct client_request	*client = ex->client;
	struct evbuffer		*buf = NULL;
	struct proxy_lines	 lines = { .client = client };

	exchange_add_cors_headers(ex, &lines);
	if (!ex->cors.preflight) {
		proxy_lines_add(&lines, HEADERS_VARY, "Vary", "Origin");
	}
	if (content_type != NULL) {
		proxy_lines_add(&lines, HEADERS_OTHER, "Content-Type",
		    content_type);
	}
	if (body != NULL && (buf = evbuffer_new()) != NULL) {
		evbuffer_add(buf, body, strlen(body));
		ex->bytes = strlen(body);
	}
	ex->status = status;
	client_set_close_cb(client, NULL, NULL);
	exchange_log(ex, client_request_target(client));
	client_reply_lines(client, status, reason, lines.buf, lines.len, buf);
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
	exchange_reply(ex, status, NULL, "application/json",
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

static const char *
exchange_upstream_host(struct exchange *ex, const char *client_host)
{
	const struct config_upstream	*group;

	group = &ex->proxy->config->upstreams[ex->route->upstream];
	if (group->host_mode == CONFIG_HOST_CLIENT && client_host != NULL) {
		return (client_host);
	}
	if (group->host_mode == CONFIG_HOST_FIXED) {
		return (group->host_name);
	}
	return (upstream_server_host(ex->server));
}


/* Appends the client's address to any X-Forwarded-For it sent. */
static void
exchange_write_forwarded(struct exchange *ex, struct evbuffer *head,
    const struct head *in, const char *client_host)
{
	const struct evkeyval	*h;

	evbuffer_add(head, "X-Forwarded-For: ", 17);
	if (head_count(in, HEADERS_X_FORWARDED_FOR) > 0) {
		TAILQ_FOREACH(h, &in->fields, next) {
			if (head_name(in, h) == HEADERS_X_FORWARDED_FOR) {
				proxy_add_words(head, h->value, ", ",
				    NULL);
			}
		}
	}
	evbuffer_add(head, ex->client_addr, strlen(ex->client_addr));
	evbuffer_add(head, "\r\n", 2);
	headers_add(head, "X-Forwarded-Proto",
	    client_request_tls(ex->client) ? "https" : "http");
	if (client_host != NULL) {
		headers_add(head, "X-Forwarded-Host", client_host);
	}
}


static bool
proxy_is_replaced_request_header(enum headers_name n)
{
	return (n == HEADERS_HOST || n == HEADERS_CONTENT_LENGTH ||
	    n == HEADERS_X_FORWARDED_FOR || n == HEADERS_X_FORWARDED_PROTO ||
	    n == HEADERS_X_FORWARDED_HOST);
}


/* The request head as the upstream gets it: the target byte for byte,
 * hop-by-hop headers dropped, the Host per the group, X-Forwarded-*
 * set, and a Content-Length for the body the client module read. */
static void
exchange_write_head(struct exchange *ex, struct evbuffer *head)
{
	const struct head	*in = client_request_head(ex->client);
	const struct evkeyval	*h;
	const char		*client_host = head_value(in, HEADERS_HOST);
	size_t			 len;

	len = evbuffer_get_length(client_request_body(ex->client));
	proxy_add_words(head, ex->method, " ",
	    client_request_target(ex->client), " HTTP/1.1\r\n", NULL);
	headers_add(head, "Host", exchange_upstream_host(ex, client_host));
	TAILQ_FOREACH(h, &in->fields, next) {
		enum headers_name	 n = head_name(in, h);

		if (!proxy_is_hop_header(in, h->key, n) &&
		    !proxy_is_replaced_request_header(n)) {
			headers_add(head, h->key, h->value);
		}
	}
	exchange_write_forwarded(ex, head, in, client_host);
	if (len > 0 || head_count(in, HEADERS_CONTENT_LENGTH) > 0 ||
	    head_count(in, HEADERS_TRANSFER_ENCODING) > 0) {
		headers_add_number(head, "Content-Length", len);
	}
	evbuffer_add(head, "\r\n", 2);
}


static const struct upconn_callbacks exchange_upstream_callbacks;


/*
 * Sends the request to a server of the route's group.  After a failed
 * connect, avoid names the server that failed.  Failures come back
 * through the callbacks, never before this returns.
 */
static void
exchange_send(struct exchange *ex, const struct upstream_server *avoid)
{
	struct evbuffer	*out, *body = client_request_body(ex->client);

	ex->attempts++;
	ex->server = upstream_pick(ex->proxy->pool, ex->route->upstream,
	    avoid);
	if (ex->server == NULL) {
		exchange_error(ex, 503, "service_unavailable",
		    "no upstream server is available");
		return;
	}
	if ((ex->conn = upstream_acquire(ex->server)) == NULL) {
		exchange_error(ex, 500, "internal_error", "out of memory");
		return;
	}
	out = upconn_output(ex->conn->conn);
	exchange_write_head(ex, out);
	/* A reference, not a copy: a retry sends the same body. */
	if (evbuffer_get_length(body) > 0 &&
	    evbuffer_add_buffer_reference(out, body) == -1) {
		upstream_release(ex->conn, false);
		ex->conn = NULL;
		exchange_error(ex, 500, "internal_error", "out of memory");
		return;
	}
	upconn_request(ex->conn->conn, strcmp(ex->method, "HEAD") == 0,
	    &exchange_upstream_callbacks, ex);
}


static void
exchange_forward(struct exchange *ex)
{
	exchange_send(ex, NULL);
}


/* ---- the upstream's response ----------------------------------------- */

/* Adds each token of value to the list in buf unless already there.
 * Returns false when a token did not fit. */
static bool
proxy_vary_add(char *buf, size_t len, const char *value)
{
	const char	*p = value;
	bool		 fits = true;

	while (*p != '\0') {
		size_t	 n, used = strlen(buf);
		char	 token[128];

		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
			n--;
		}
		if (n >= sizeof(token) || used + n + 3 >= len) {
			fits = false;
		} else if (n > 0) {
			memcpy(token, p, n);
			token[n] = '\0';
			if (!token_list_has(buf, token)) {
				if (used > 0) {
					memcpy(buf + used, ", ", 2);
					used += 2;
				}
				memcpy(buf + used, token, n + 1);
			}
		}
		p += strcspn(p, ",");
	}
	return (fits);
}


/* Lists the response's header names, for expose "*" with credentials,
 * where a literal "*" would not be honoured by browsers. */
static void
exchange_expose_all(const struct head *in, struct proxy_lines *l)
{
	const struct evkeyval	*h;
	char			 names[2048] = "";

	TAILQ_FOREACH(h, &in->fields, next) {
		enum headers_name	 n = head_name(in, h);

		if (!proxy_is_hop_header(in, h->key, n) &&
		    !headers_is_cors(n)) {
			proxy_vary_add(names, sizeof(names), h->key);
		}
	}
	if (names[0] != '\0') {
		proxy_lines_add(l, HEADERS_AC_OTHER,
		    "Access-Control-Expose-Headers", names);
	}
}


static bool
proxy_skip_response_header(const struct head *in, const char *name,
    enum headers_name n, bool strip_cors)
{
	if (proxy_is_hop_header(in, name, n) || n == HEADERS_VARY) {
		return (true);
	}
	/* A chunked body is re-framed for the client; a Content-Length
	 * beside it would be a lie. */
	if (n == HEADERS_CONTENT_LENGTH &&
	    head_count(in, HEADERS_TRANSFER_ENCODING) > 0) {
		return (true);
	}
	return (strip_cors && headers_is_cors(n));
}


/*
 * Copies the upstream's response headers to the client's response:
 * hop-by-hop headers dropped, the upstream's own Access-Control-*
 * replaced by the policy's answer, Origin merged into one Vary.
 */
static void
exchange_copy_response_headers(struct exchange *ex, const struct head *in,
    struct proxy_lines *lines)
{
	const struct evkeyval	*h;
	bool			 strip_cors, fits = true;
	char			 vary[1024] = "";

	/* In report mode an origin no policy knows gets the backend's own
	 * answer, as if the proxy were not there. */
	strip_cors = ex->creq.origin != NULL && !ex->preflight_forwarded &&
	    !(ex->cors.reported && ex->cors.decision == CORS_DENIED);
	TAILQ_FOREACH(h, &in->fields, next) {
		enum headers_name	 n = head_name(in, h);

		if (n == HEADERS_VARY) {
			fits &= proxy_vary_add(vary, sizeof(vary), h->value);
		}
		if (!proxy_skip_response_header(in, h->key, n, strip_cors)) {
			proxy_lines_add(lines, n, h->key, h->value);
		}
	}
	if (strip_cors) {
		exchange_add_cors_headers(ex, lines);
	}
	if (strip_cors && ex->cors.expose_all) {
		exchange_expose_all(in, lines);
	}
	if (!ex->preflight_forwarded) {
		fits &= proxy_vary_add(vary, sizeof(vary), "Origin");
	}
	/* A Vary too long to merge must not lose Origin: "*" keeps every
	 * cache from reusing the response at all. */
	if (vary[0] != '\0' || !fits) {
		proxy_lines_add(lines, HEADERS_VARY, "Vary", fits ? vary : "*");
	}
}


static void
exchange_upstream_headers(void *arg, int status, const char *reason,
    const struct head *headers)
{
	struct exchange		*ex = arg;
	struct proxy_lines	 lines = { .client = ex->client };

	exchange_copy_response_headers(ex, headers, &lines);
	ex->status = status;
	ex->reply_started = true;
	client_set_drained_cb(ex->client, exchange_client_drained, ex);
	client_reply_start_lines(ex->client, status, reason, lines.buf,
	    lines.len);
}


/* The client's output buffer drained: read the upstream again. */
static void
exchange_client_drained(struct client_request *client, void *arg)
{
	struct exchange	*ex = arg;

	(void)client;

	if (ex->paused && ex->conn != NULL) {
		ex->paused = false;
		upconn_pause(ex->conn->conn, false);
	}
}


static void
exchange_upstream_body(void *arg, struct evbuffer *data)
{
	struct exchange	*ex = arg;

	ex->bytes += evbuffer_get_length(data);
	client_reply_chunk(ex->client, data);
	if (!ex->paused &&
	    client_output_pending(ex->client) > PROXY_CLIENT_BUFFER_MAX) {
		ex->paused = true;
		upconn_pause(ex->conn->conn, true);
	}
}


static void
exchange_upstream_done(void *arg)
{
	struct exchange	*ex = arg;

	upstream_release(ex->conn, true);
	ex->conn = NULL;
	exchange_finish(ex);
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


/* Whether the request may go again after failure why. */
static bool
exchange_may_retry(const struct exchange *ex, enum upconn_failure why,
    bool stale)
{
	size_t	 n;

	n = upstream_group_size(ex->proxy->pool, ex->route->upstream);
	if (why == UPCONN_CONNECT || why == UPCONN_CONNECT_TIMEOUT) {
		/* Nothing reached the server: any method may go again. */
		return (ex->attempts < (int)n);
	}
	/* A kept-alive connection the server had closed while idle. */
	return (stale && ex->attempts < (int)n + 1 &&
	    proxy_is_idempotent(client_request_method(ex->client)) &&
	    evbuffer_get_length(client_request_body(ex->client)) == 0);
}


static void
exchange_failed_error(struct exchange *ex, enum upconn_failure why,
    const char *detail)
{
	char	 msg[400];

	snprintf(msg, sizeof(msg), "upstream %s: %s",
	    upstream_server_name(ex->server), detail);
	log_warn("%s", msg);
	/* A server that never took the connection is unreachable (502);
	 * 504 is for one that took the request and did not answer. */
	if (why == UPCONN_TIMEOUT) {
		exchange_error(ex, 504, "gateway_timeout", msg);
	} else {
		exchange_error(ex, 502, "bad_gateway", msg);
	}
}


static enum metrics_upstream_error
proxy_metrics_error(enum upconn_failure why)
{
	switch (why) {
	case UPCONN_CONNECT:
		return (METRICS_UPSTREAM_CONNECT);
	case UPCONN_CONNECT_TIMEOUT:
	case UPCONN_TIMEOUT:
		return (METRICS_UPSTREAM_TIMEOUT);
	default:
		return (METRICS_UPSTREAM_BROKEN);
	}
}


/* The upstream attempt failed: retry where that is safe, else answer
 * 502 or 504, or cut the response short when it had begun. */
static void
exchange_upstream_failed(void *arg, enum upconn_failure why,
    const char *detail)
{
	struct exchange	*ex = arg;
	bool		 stale;

	stale = upconn_reused(ex->conn->conn) &&
	    upconn_nothing_received(ex->conn->conn);
	upstream_release(ex->conn, false);
	ex->conn = NULL;
	metrics_upstream_error(proxy_metrics_error(why));
	if (ex->reply_started) {
		exchange_abort_client(ex);
		return;
	}
	if (why == UPCONN_CONNECT || why == UPCONN_CONNECT_TIMEOUT) {
		upstream_mark_failed(ex->server);
	}
	if (exchange_may_retry(ex, why, stale)) {
		log_info("upstream %s: %s; trying again",
		    upstream_server_name(ex->server), detail);
		exchange_send(ex, why == UPCONN_CONNECT ||
		    why == UPCONN_CONNECT_TIMEOUT ? ex->server : NULL);
		return;
	}
	exchange_failed_error(ex, why, detail);
}


static const struct upconn_callbacks exchange_upstream_callbacks = {
	exchange_upstream_headers,
	exchange_upstream_body,
	exchange_upstream_done,
	exchange_upstream_failed
};


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
	char				 remedy[1200];
	char				 line[2600], escaped[3400];

	cors_reason_text(&ex->cors, ex->creq.origin, reason, sizeof(reason));
	cors_fix_text(&ex->proxy->config->policies,
	    r->all_policies ? NULL : r->policies, r->npolicies, &ex->cors,
	    ex->creq.origin, &fix);

	/* A malformed request has no change to suggest, only a note. */
	if (fix.change[0] == '\0') {
		snprintf(remedy, sizeof(remedy), "%s", fix.note);
	} else {
		proxy_one_line(change, sizeof(change), fix.change);
		snprintf(remedy, sizeof(remedy), "to allow it, %s %s: %s",
		    fix.add ? "add to" : "set in", fix.where, change);
	}
	snprintf(line, sizeof(line), "%s %s %s from %s, origin '%.256s': "
	    "%s; %s", ex->cors.reported ? "report only: would deny" :
	    "denied", ex->cors.preflight ? "preflight for" : "request",
	    ex->cors.preflight ? ex->creq.request_method : ex->method,
	    ex->client_addr, ex->creq.origin, reason, remedy);
	log_info("cors: %s", log_escape(escaped, sizeof(escaped), line,
	    strlen(line)));
}


/* Collects every Access-Control-Request-Headers line, joined with ",":
 * a browser sends one, but a client may split it. */
static char *
exchange_request_headers(const struct head *in)
{
	const struct evkeyval	*h;
	struct evbuffer		*buf;
	char			*joined = NULL;
	size_t			 len;

	if ((buf = evbuffer_new()) == NULL) {
		return (NULL);
	}
	TAILQ_FOREACH(h, &in->fields, next) {
		if (head_name(in, h) == HEADERS_AC_REQUEST_HEADERS) {
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
	const struct head		*in = client_request_head(ex->client);
	const struct config_route	*r = ex->route;
	const char			*pn;

	ex->creq.method = ex->method;
	/* Two Origins are refused (client.c), and judged as none: no
	 * policy may pick one of them. */
	ex->creq.origin = head_count(in, HEADERS_ORIGIN) == 1 ?
	    head_value(in, HEADERS_ORIGIN) : NULL;
	ex->creq.request_method = head_value(in, HEADERS_AC_REQUEST_METHOD);
	/* One line, as browsers send it, is used where it stands. */
	if (head_count(in, HEADERS_AC_REQUEST_HEADERS) > 1) {
		ex->request_headers = exchange_request_headers(in);
		ex->creq.request_headers = ex->request_headers;
	} else {
		ex->creq.request_headers = head_value(in,
		    HEADERS_AC_REQUEST_HEADERS);
	}
	pn = head_value(in, HEADERS_AC_REQUEST_PRIVATE_NETWORK);
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

	/* Most requests end before the next starts: one kept exchange
	 * saves an allocation on each. */
	if ((ex = p->spare) != NULL) {
		p->spare = NULL;
		memset(ex, 0, sizeof(*ex));
	} else if ((ex = calloc(1, sizeof(*ex))) == NULL) {
		return (NULL);
	}
	p->inflight++;
	ex->proxy = p;
	ex->client = req;
	clock_gettime(CLOCK_MONOTONIC, &ex->start);
	proxy_copy(ex->client_addr, sizeof(ex->client_addr),
	    client_request_peer(req));
	proxy_copy(ex->method, sizeof(ex->method), client_request_method(req));
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


/*
 * Answers a request itself, or forwards it.  A preflight the route
 * forwards is the backend's to answer: the proxy decides nothing about
 * it, so it logs no denial for it, unless on_denied: reject refuses
 * the origin before the backend is asked.
 */
static void
exchange_start(struct exchange *ex, int refused, const char *message)
{
	bool	 backend_answers;

	backend_answers = refused == 0 && ex->cors.preflight &&
	    !ex->cors.reject &&
	    ex->route->preflight == CONFIG_PREFLIGHT_FORWARD;
	if ((ex->cors.decision == CORS_DENIED || ex->cors.reported) &&
	    !backend_answers) {
		exchange_log_denial(ex);
	}
	if (refused != 0) {
		exchange_error(ex, refused, proxy_refusal_name(refused),
		    message);
		return;
	}
	/* In report mode an origin no policy knows is left to the backend,
	 * as if the proxy added no CORS at all. */
	if (ex->cors.preflight &&
	    ex->route->preflight == CONFIG_PREFLIGHT_ANSWER &&
	    !(ex->cors.reported && ex->cors.decision == CORS_DENIED)) {
		exchange_answer_preflight(ex);
		return;
	}
	if (ex->cors.reject) {
		exchange_error(ex, 403, "origin_not_allowed",
		    "this origin is not allowed to call this server");
		return;
	}
	if (strcmp(ex->method, "CONNECT") == 0) {
		exchange_error(ex, 501, "not_implemented",
		    "this proxy does not tunnel CONNECT");
		return;
	}
	/* Its answer is the backend's, passed on as sent; set only here,
	 * since a rejected preflight is the proxy's own answer. */
	ex->preflight_forwarded = ex->cors.preflight;
	exchange_forward(ex);
}


void
proxy_handle(struct client_request *req, int refused, const char *message,
    void *arg)
{
	struct proxy		*p = arg;
	struct exchange		*ex;
	const struct head	*in = client_request_head(req);

	if ((ex = exchange_new(p, req)) == NULL) {
		client_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	ex->route = config_route_match(p->config, client_request_target(req),
	    head_value(in, HEADERS_HOST));
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
	free(p->spare);
	free(p);
}


unsigned
proxy_inflight(const struct proxy *p)
{
	return (p->inflight);
}
