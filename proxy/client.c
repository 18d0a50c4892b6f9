/*
 * Client connections: reading HTTP/1.1 requests and writing responses.
 *
 * A connection moves through a few states: IDLE (waiting for a
 * request, under the idle timeout), HEAD and BODY (reading one, under
 * the header timeout), BUSY (the proxy has the request; reading goes
 * on only to notice a client that leaves), then back to IDLE, or to
 * CLOSING when the response must end the connection.  A refused
 * request (malformed, too large, an unsupported framing) goes to the
 * same callback as a good one, with its status, so the proxy can add
 * CORS headers and log it like any other.
 *
 * The parser is strict where leniency lets two parties read one
 * message differently: both Content-Length and Transfer-Encoding, two
 * Content-Lengths, a coding other than chunked, folded or malformed
 * header lines and control bytes in values are all refused, and the
 * connection is closed after the answer.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "client.h"
#include "framing.h"
#include "head.h"
#include "headers.h"
#include "log.h"
#include "metrics.h"
#include "sockio.h"
#include "token.h"

#define CLIENT_PIPELINE_MAX	(64 * 1024)	/* read ahead while busy */
#define CLIENT_LOW_WATER	(16 * 1024)	/* drained: below this */
#define CLIENT_IO_MAX		(256 * 1024)	/* bytes a write */
#define CLIENT_READ_CHUNK	(64 * 1024)	/* bytes a read */
#define CLIENT_LINGER_MS	2000
#define CLIENT_LINGER_BYTES	(1024 * 1024)

enum client_state {
	CLIENT_IDLE,
	CLIENT_HEAD,
	CLIENT_BODY,
	CLIENT_BUSY,
	CLIENT_CLOSING,		/* flushing the last response */
	CLIENT_LINGER		/* discarding what the client still sends */
};

/* What a reading step found. */
enum client_read {
	CLIENT_MORE,		/* wait for more bytes */
	CLIENT_DONE,
	CLIENT_REFUSED		/* refuse_status says why */
};

struct client_conn;

/* A timeout both as a libevent common timeout and in milliseconds. */
struct client_timeout {
	struct timeval		 tv;
	uint64_t		 ms;
};

struct client_request {
	struct client_conn	*conn;
	const char		*method;	/* in head's block, or "-" */
	char			*target;	/* in head's block, or NULL */
	int			 minor;
	struct head		 head;
	bool			 has_length;	/* Content-Length added */
	bool			 add_length;	/* client_reply() writes
						 * Content-Length: length */
	size_t			 length;
	bool			 has_date;
	struct evbuffer		*body;
	bool			 keepalive;
	bool			 is_head;

	struct framing		 framing;	/* of the body */

	int			 refuse_status;
	const char		*refuse_message;

	bool			 started;
	bool			 reply_chunked;
	bool			 reply_body;
	bool			 close_after;
	client_close_cb		*close_cb;
	void			*close_arg;
	client_drained_cb	*drained_cb;
	void			*drained_arg;
};

struct client_conn {
	struct client_server		*server;
	evutil_socket_t			 fd;
	struct event			*ev;		/* readable or writable,
							 * edge-triggered */
	uint64_t			 deadline;	/* ms, monotonic; 0:
							 * none */
	uint64_t			 timer_at;	/* when the armed
							 * timer fires; 0:
							 * not armed */
	struct event			*timer;		/* the state's
							 * timeout */
	struct evbuffer			*in;
	struct evbuffer			*out;
	struct evbuffer			*fields;	/* of the response
							 * being prepared */
	struct evbuffer			*body;		/* of the request
							 * being read */
	bool				 read_paused;
	enum client_state		 state;
	struct client_request		 req;
	size_t				 lingered;
	char				 peer[64];
	TAILQ_ENTRY(client_conn)	 next;
};

struct client_server {
	struct event_base		 *base;
	const struct config		 *config;
	client_request_cb		 *cb;
	void				 *arg;
	struct evconnlistener		**listeners;
	size_t				  nlisteners;
	bool				  paused;	/* at the limit */
	bool				  draining;	/* stopped: close
							 * after each reply */
	bool				  metered;	/* counted in
							 * /metrics */
	bool				  reading;	/* in a client's
							 * event callback */
	struct event			 *resume;	/* accept again */
	TAILQ_HEAD(, client_conn)	  conns;
	size_t				  nconns;
	struct client_timeout		  idle;
	struct client_timeout		  header;
	time_t				  date_time;
	char				  date[40];
};

static int	client_process(struct client_conn *);
static void	client_conn_free(struct client_conn *);
static void	client_conn_release(struct client_conn *);
static void	client_flush_soon(struct client_conn *);
static void	client_accept_resume(evutil_socket_t, short, void *);


/* ---- small helpers --------------------------------------------------- */

static struct timeval
client_tv(long ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	return (tv);
}


/*
 * Connections time out after one of two durations.  As libevent
 * "common timeouts" their timers sit in a queue per duration instead
 * of the timer heap, so arming one costs the same with ten thousand
 * connections as with one.
 */
static struct client_timeout
client_timeout(struct event_base *base, long ms)
{
	struct client_timeout	 t = { client_tv(ms), (uint64_t)ms };
	const struct timeval	*common;

	if ((common = event_base_init_common_timeout(base, &t.tv)) != NULL) {
		t.tv = *common;
	}
	return (t);
}


static uint64_t
client_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}


/*
 * A connection's deadline moves two or three times a request.  Rather
 * than re-arm its timer each time, the deadline is kept here and an
 * armed timer that would fire no later is left alone: when it fires
 * early it is armed again for what is left (client_timer_cb), and
 * when the deadline is cleared it fires once for nothing.
 */
static void
client_deadline(struct client_conn *c, const struct client_timeout *t)
{
	c->deadline = client_now_ms() + t->ms;
	if (c->timer_at != 0 && c->timer_at <= c->deadline) {
		return;
	}
	evtimer_add(c->timer, &t->tv);
	c->timer_at = c->deadline;
}


static void
client_no_deadline(struct client_conn *c)
{
	c->deadline = 0;
}


/* Field values: visible bytes, obs-text, spaces and tabs; no NUL, CR,
 * LF or other control bytes. */
static bool
client_is_field_value(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return (false);
		}
	}
	return (true);
}


static const char *
client_date(struct client_server *s)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	if (now != s->date_time) {
		gmtime_r(&now, &tm);
		strftime(s->date, sizeof(s->date),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm);
		s->date_time = now;
	}
	return (s->date);
}


/* ---- one request ----------------------------------------------------- */

static void
client_request_clear(struct client_request *r)
{
	head_clear(&r->head);
}


static void
client_request_init(struct client_conn *c)
{
	struct client_request	*r = &c->req;

	memset(r, 0, sizeof(*r));
	r->conn = c;
	head_init(&r->head);
	/* The buffers are the connection's, kept from one request to the
	 * next: emptied, not made anew. */
	evbuffer_drain(c->fields, evbuffer_get_length(c->fields));
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	r->body = c->body;
}


static enum client_read
client_refuse(struct client_request *r, int status, const char *message)
{
	r->refuse_status = status;
	r->refuse_message = message;
	return (CLIENT_REFUSED);
}


/* Returns true when the segment of len bytes is "." or "..", written
 * plainly or with %2e. */
static bool
client_is_dot_segment(const char *seg, size_t len)
{
	size_t	 dots = 0, i = 0;

	while (i < len) {
		if (seg[i] == '.') {
			i++;
		} else if (len - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' &&
		    (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
			i += 3;
		} else {
			return (false);
		}
		dots++;
	}
	return (dots == 1 || dots == 2);
}


/*
 * Routes match the path by prefix, so a path whose meaning a backend
 * would change by resolving dot segments ("/api/../admin") is refused:
 * browsers never send one.  An absolute-form target is cut to its path,
 * as a reverse proxy reads it.  Returns 0, or -1 to refuse.
 */
static int
client_normalize_target(struct client_request *r)
{
	char	*t = r->target, *p, *seg, *end;

	if (strcmp(r->method, "CONNECT") == 0) {
		return (0);	/* authority-form; the proxy refuses it */
	}
	if (strncasecmp(t, "http://", 7) == 0 ||
	    strncasecmp(t, "https://", 8) == 0) {
		if ((p = strchr(strchr(t, ':') + 3, '/')) == NULL) {
			strcpy(t, "/");
		} else {
			memmove(t, p, strlen(p) + 1);
		}
	}
	if (strcmp(t, "*") == 0) {
		return (strcmp(r->method, "OPTIONS") == 0 ? 0 : -1);
	}
	if (t[0] != '/') {
		return (-1);
	}
	end = t + strcspn(t, "?#");
	for (p = t + 1;; p = seg + 1) {
		if ((seg = memchr(p, '/', (size_t)(end - p))) == NULL) {
			seg = end;
		}
		if (client_is_dot_segment(p, (size_t)(seg - p))) {
			return (-1);
		}
		if (seg == end) {
			break;
		}
	}
	return (0);
}


/* "METHOD SP request-target SP HTTP/1.x" */
static enum client_read
client_parse_request_line(struct client_request *r, char *line)
{
	char	*sp1, *sp2;

	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' ')) {
		return (client_refuse(r, 400, "malformed request line"));
	}
	*sp1 = *sp2 = '\0';
	if (!token_valid(line, (size_t)(sp1 - line))) {
		return (client_refuse(r, 400, "malformed method"));
	}
	/* Both stay in the head's block, which lives as long as the
	 * request: no copies. */
	r->method = line;
	r->target = sp1 + 1;
	if (strncmp(sp2 + 1, "HTTP/", 5) != 0 || !isdigit((unsigned char)
	    sp2[6]) || sp2[7] != '.' || !isdigit((unsigned char)sp2[8]) ||
	    sp2[9] != '\0') {
		return (client_refuse(r, 400, "malformed HTTP version"));
	}
	if (sp2[6] != '1') {
		return (client_refuse(r, 505, "only HTTP/1.0 and HTTP/1.1 "
		    "are supported"));
	}
	r->minor = sp2[8] - '0';
	if (r->target[0] == '\0' || !client_is_field_value(r->target,
	    strlen(r->target)) || strchr(r->target, '\t') != NULL) {
		return (client_refuse(r, 400, "malformed request target"));
	}
	if (client_normalize_target(r) == -1) {
		return (client_refuse(r, 400, "the request target must be a "
		    "path without . or .. segments"));
	}
	r->is_head = strcmp(r->method, "HEAD") == 0;
	return (CLIENT_MORE);
}


static enum client_read
client_content_length(struct client_request *r, const char *cl)
{
	const struct config	*conf = r->conn->server->config;
	size_t			 len = strlen(cl);

	if (len == 0 || len > 18 || strspn(cl, "0123456789") != len) {
		return (client_refuse(r, 400, "malformed Content-Length"));
	}
	framing_start(&r->framing, FRAMING_LENGTH, strtoull(cl, NULL, 10),
	    conf->limits.body_bytes, 0);
	if (r->framing.remaining > conf->limits.body_bytes) {
		return (client_refuse(r, 413, "the request body is larger "
		    "than the limit"));
	}
	return (r->framing.remaining > 0 ? CLIENT_MORE : CLIENT_DONE);
}


/*
 * Decides how the body is framed, once the head is complete.  Returns
 * CLIENT_DONE when there is no body, CLIENT_MORE when one follows.
 */
static enum client_read
client_framing(struct client_request *r)
{
	const struct head	*h = &r->head;
	const char		*te = head_value(h, HEADERS_TRANSFER_ENCODING);
	const char		*cl = head_value(h, HEADERS_CONTENT_LENGTH);
	size_t			 nte = head_count(h, HEADERS_TRANSFER_ENCODING);
	size_t			 ncl = head_count(h, HEADERS_CONTENT_LENGTH);

	if (head_count(h, HEADERS_HOST) > 1 ||
	    (head_count(h, HEADERS_HOST) == 0 && r->minor >= 1)) {
		return (client_refuse(r, 400, "a request needs exactly one "
		    "Host header"));
	}
	/* Which one would the policy judge, and which the backend? */
	if (head_count(h, HEADERS_ORIGIN) > 1) {
		return (client_refuse(r, 400, "more than one Origin header"));
	}
	r->keepalive = r->minor >= 1 ?
	    !head_lists(h, HEADERS_CONNECTION, "close") :
	    head_lists(h, HEADERS_CONNECTION, "keep-alive");
	if (nte > 0 && ncl > 0) {
		return (client_refuse(r, 400, "both Content-Length and "
		    "Transfer-Encoding"));
	}
	if (ncl > 1) {
		return (client_refuse(r, 400, "more than one "
		    "Content-Length"));
	}
	if (nte > 0) {
		if (nte > 1 || r->minor == 0 ||
		    strcasecmp(te, "chunked") != 0) {
			return (client_refuse(r, 501, "only the chunked "
			    "transfer coding is supported"));
		}
		framing_start(&r->framing, FRAMING_CHUNKED, 0,
		    r->conn->server->config->limits.body_bytes,
		    r->conn->server->config->limits.header_bytes);
		return (CLIENT_MORE);
	}
	return (cl != NULL ? client_content_length(r, cl) : CLIENT_DONE);
}


/* Lines until the empty one; every byte counts against the limit. */
/* A head refused for its fields still names its request in the log,
 * when its request line is sound. */
static void
client_name_request(struct client_request *r)
{
	if (r->head.start != NULL &&
	    client_parse_request_line(r, r->head.start) == CLIENT_REFUSED) {
		r->refuse_status = 0;
	}
}


static enum client_read
client_read_head(struct client_conn *c)
{
	const struct config	*conf = c->server->config;
	struct client_request	*r = &c->req;
	const char		*error = NULL;
	enum client_read	 rv;

	switch (head_read(&r->head, c->in, conf->limits.header_bytes,
	    conf->limits.header_count, &error)) {
	case HEAD_MORE:
		return (CLIENT_MORE);
	case HEAD_TOO_LARGE:
		return (client_refuse(r, 431, "the request header is larger "
		    "than the limit"));
	case HEAD_TOO_MANY:
		client_name_request(r);
		return (client_refuse(r, 431, "too many header fields"));
	case HEAD_BAD:
		client_name_request(r);
		return (client_refuse(r, 400, error));
	case HEAD_DONE:
		break;
	}
	if ((rv = client_parse_request_line(r, r->head.start)) != CLIENT_MORE) {
		return (rv);
	}
	rv = client_framing(r);
	if (rv == CLIENT_MORE) {
		c->state = CLIENT_BODY;
		return (CLIENT_DONE);
	}
	return (rv);
}


/* ---- the body -------------------------------------------------------- */

static enum client_read
client_read_body(struct client_conn *c)
{
	struct client_request	*r = &c->req;

	switch (framing_read(&r->framing, c->in, r->body)) {
	case FRAMING_MORE:
		return (CLIENT_MORE);
	case FRAMING_DONE:
		return (CLIENT_DONE);
	case FRAMING_TOO_LARGE:
		return (client_refuse(r, 413, "the request body is larger "
		    "than the limit"));
	case FRAMING_TRAILER_TOO_LARGE:
		return (client_refuse(r, 431, "the trailer is larger than "
		    "the limit"));
	default:
		return (client_refuse(r, 400, "malformed chunked body"));
	}
}


/* A client that sent "Expect: 100-continue" waits for this before it
 * sends the body. */
static enum client_read
client_expect(struct client_conn *c)
{
	struct client_request	*r = &c->req;
	const char		*expect = head_value(&r->head, HEADERS_EXPECT);

	if (expect == NULL || r->minor == 0) {
		return (CLIENT_MORE);
	}
	if (strcasecmp(expect, "100-continue") != 0) {
		return (client_refuse(r, 417, "only 100-continue can be "
		    "expected"));
	}
	if (c->state == CLIENT_BODY && evbuffer_get_length(c->in) == 0) {
		evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		client_flush_soon(c);
	}
	return (CLIENT_MORE);
}


/* ---- the connection's states ----------------------------------------- */

/*
 * One timer per connection carries whichever timeout the state has:
 * IDLE the idle timeout; HEAD one deadline for the whole head (a
 * client dripping a byte at a time must not hold the connection
 * forever); BODY the idle timeout, restarted by every read; BUSY none
 * while the proxy waits upstream, the idle timeout while a response
 * waits for a client that stopped reading; CLOSING the same; LINGER a
 * short grace.
 */
static void
client_set_state(struct client_conn *c, enum client_state state)
{
	struct client_server	*s = c->server;

	c->state = state;
	switch (state) {
	case CLIENT_IDLE:
	case CLIENT_CLOSING:
		client_deadline(c, &s->idle);
		break;
	case CLIENT_HEAD:
		client_deadline(c, &s->header);
		break;
	case CLIENT_BODY:
		client_deadline(c, &s->idle);
		break;
	case CLIENT_BUSY:
		client_no_deadline(c);
		break;
	default:
		break;
	}
}


/* Writing happens from the loop, never inside a caller's callback, so
 * a failed write cannot free the connection under the caller.  An
 * activated event costs no system call. */
static void
client_flush_soon(struct client_conn *c)
{
	event_active(c->ev, EV_WRITE, 1);
}


static void
client_read_soon(struct client_conn *c)
{
	c->read_paused = false;
	event_active(c->ev, EV_READ, 1);
}


/* Hands the request to the proxy.  Reading goes on, so a client that
 * leaves is noticed, but only until a little is buffered.  Returns -1
 * when the connection is gone. */
static int
client_dispatch(struct client_conn *c, int status, const char *message)
{
	struct client_request	*r = &c->req;

	client_set_state(c, CLIENT_BUSY);
	if (status != 0) {
		r->close_after = true;
		c->read_paused = true;
		if (r->method == NULL) {
			r->method = "-";
		}
	}
	c->server->cb(r, status, message, c->server->arg);
	return (0);
}


/* Runs the reading states over what is buffered.  Returns -1 when the
 * connection is gone. */
static int
client_process(struct client_conn *c)
{
	enum client_read	 rv = CLIENT_MORE;

	if (c->state == CLIENT_IDLE) {
		if (evbuffer_get_length(c->in) == 0) {
			return (0);
		}
		client_set_state(c, CLIENT_HEAD);
	}
	if (c->state == CLIENT_HEAD) {
		rv = client_read_head(c);
		if (rv == CLIENT_DONE && c->state == CLIENT_BODY) {
			client_set_state(c, CLIENT_BODY);
			rv = client_expect(c);
		}
	}
	if (c->state == CLIENT_BODY && rv == CLIENT_MORE) {
		rv = client_read_body(c);
	}
	if (rv == CLIENT_DONE) {
		return (client_dispatch(c, 0, NULL));
	}
	if (rv == CLIENT_REFUSED) {
		return (client_dispatch(c, c->req.refuse_status,
		    c->req.refuse_message));
	}
	if (c->state == CLIENT_BUSY &&
	    evbuffer_get_length(c->in) > CLIENT_PIPELINE_MAX) {
		c->read_paused = true;
	}
	return (0);
}


/* After a response that ends the connection, what the client is still
 * sending is read and dropped for a moment: closing with unread data
 * makes the kernel send a reset, which can destroy the response before
 * the client has read it. */
static void
client_linger(struct client_conn *c)
{
	struct client_timeout	 t = { client_tv(CLIENT_LINGER_MS),
				    CLIENT_LINGER_MS };

	c->state = CLIENT_LINGER;
	shutdown(c->fd, SHUT_WR);
	client_deadline(c, &t);
	client_read_soon(c);
}


static void
client_on_read(struct client_conn *c)
{
	int	 rc = sockio_read(c->fd, c->in, CLIENT_READ_CHUNK, c->ev);

	if (c->state == CLIENT_LINGER) {
		c->lingered += evbuffer_get_length(c->in);
		evbuffer_drain(c->in, evbuffer_get_length(c->in));
		if (rc != 0 || c->lingered > CLIENT_LINGER_BYTES) {
			client_conn_free(c);
		}
		return;
	}
	if (c->state == CLIENT_BODY && evbuffer_get_length(c->in) > 0) {
		/* A body gets an idle timeout: a large upload on a slow
		 * line may take long, but must not stall. */
		client_deadline(c, &c->server->idle);
	}
	if (c->state != CLIENT_CLOSING && client_process(c) == -1) {
		return;
	}
	if (rc == 1 && c->state == CLIENT_BUSY) {
		/* A client may end its side after the request and still
		 * read the response: answer, then close. */
		c->req.close_after = true;
		c->read_paused = true;
	} else if (rc != 0) {
		log_debug("client %s: connection %s", c->peer, rc == 1 ?
		    "closed" : "failed");
		client_conn_free(c);
	}
}


/* Writes what waits, until the socket takes no more.  Returns -1 when
 * the client is gone. */
static int
client_flush(struct client_conn *c)
{
	struct client_request	*r = &c->req;
	size_t			 left, before = evbuffer_get_length(c->out);

	if (sockio_write(c->fd, c->out, CLIENT_IO_MAX) == -1) {
		return (-1);
	}
	left = evbuffer_get_length(c->out);
	if (left == 0 && c->state == CLIENT_CLOSING) {
		client_linger(c);
	} else if (c->state == CLIENT_BUSY) {
		/* An idle timeout for a client that stops reading, not a
		 * deadline for a slow one that keeps reading. */
		if (left > 0 && (left < before || c->deadline == 0)) {
			client_deadline(c, &c->server->idle);
		} else if (left == 0) {
			client_no_deadline(c);
		}
		/* The callee only resumes reading its upstream. */
		if (left <= CLIENT_LOW_WATER && r->drained_cb != NULL) {
			r->drained_cb(r, r->drained_arg);
		}
	}
	return (0);
}


static void
client_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn	*c = arg;
	struct client_server	*s = c->server;

	(void)fd;

	if ((what & EV_WRITE) && client_flush(c) == -1) {
		log_debug("client %s: write failed: %s", c->peer,
		    strerror(errno));
		client_conn_free(c);
		return;
	}
	if ((what & EV_READ) && !c->read_paused) {
		/* c may be freed inside; s outlives it. */
		s->reading = true;
		client_on_read(c);
		s->reading = false;
	}
}


static void
client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn	*c = arg;
	uint64_t		 now = client_now_ms();
	struct timeval		 left;

	(void)fd;
	(void)what;

	c->timer_at = 0;
	if (c->deadline == 0) {
		return;
	}
	if (now < c->deadline) {
		left = client_tv((long)(c->deadline - now));
		evtimer_add(c->timer, &left);
		c->timer_at = c->deadline;
		return;
	}
	if (c->state == CLIENT_HEAD) {
		log_debug("client %s: request head not complete within "
		    "timeouts.client_header; closing", c->peer);
	} else if (c->state != CLIENT_LINGER) {
		log_debug("client %s: idle past timeouts.client_idle; "
		    "closing", c->peer);
	}
	client_conn_free(c);
}


/* ---- connections ----------------------------------------------------- */

/* At the connection limit: stop accepting until a connection closes. */
static void
client_pause_accepting(struct client_server *s)
{
	size_t	 i;

	s->paused = true;
	for (i = 0; i < s->nlisteners; i++) {
		evconnlistener_disable(s->listeners[i]);
	}
}


static void
client_resume_accepting(struct client_server *s)
{
	size_t	 i;

	if (s->paused && s->nconns < s->config->limits.connections) {
		s->paused = false;
		for (i = 0; i < s->nlisteners; i++) {
			evconnlistener_enable(s->listeners[i]);
		}
	}
}


/* Closes the connection.  A request the proxy still holds hears of it
 * through its close callback, once. */
static void
client_conn_free(struct client_conn *c)
{
	struct client_server	*s = c->server;
	struct client_request	*r = &c->req;
	client_close_cb		*cb = r->close_cb;

	r->close_cb = NULL;
	if (c->state == CLIENT_BUSY && cb != NULL) {
		cb(r, r->close_arg);
	}
	TAILQ_REMOVE(&s->conns, c, next);
	s->nconns--;
	if (s->metered) {
		metrics_connections(-1);
	}
	client_request_clear(r);
	client_conn_release(c);
	client_resume_accepting(s);
}


/* Frees what client_conn_new() made; c may be half built. */
static void
client_conn_release(struct client_conn *c)
{
	if (c->ev != NULL) {
		event_free(c->ev);
	}
	if (c->timer != NULL) {
		event_free(c->timer);
	}
	if (c->in != NULL) {
		evbuffer_free(c->in);
	}
	if (c->fields != NULL) {
		evbuffer_free(c->fields);
	}
	if (c->body != NULL) {
		evbuffer_free(c->body);
	}
	if (c->out != NULL) {
		evbuffer_free(c->out);
	}
	evutil_closesocket(c->fd);
	free(c);
}


/* One event for both directions, added once: edge-triggered, so the
 * connection costs no epoll_ctl per request. */
static struct client_conn *
client_conn_new(struct client_server *s, evutil_socket_t fd)
{
	struct client_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return (NULL);
	}
	c->fd = fd;
	c->server = s;
	if ((c->in = evbuffer_new()) == NULL ||
	    (c->out = evbuffer_new()) == NULL ||
	    (c->fields = evbuffer_new()) == NULL ||
	    (c->body = evbuffer_new()) == NULL ||
	    (c->timer = evtimer_new(s->base, client_timer_cb, c)) == NULL ||
	    (c->ev = event_new(s->base, fd, EV_READ | EV_WRITE | EV_PERSIST |
	    EV_ET, client_io_cb, c)) == NULL || event_add(c->ev, NULL) == -1) {
		client_conn_release(c);
		return (NULL);
	}
	client_request_init(c);
	return (c);
}


static void
client_conn_peer(struct client_conn *c, const struct sockaddr *sa,
    int salen)
{
	if (getnameinfo(sa, (socklen_t)salen, c->peer, sizeof(c->peer),
	    NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(c->peer, sizeof(c->peer), "-");
	}
}


static void
client_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct client_server	*s = arg;
	struct client_conn	*c;
	int			 one = 1;

	(void)l;

	if ((c = client_conn_new(s, fd)) == NULL) {
		log_error("client: out of memory; connection dropped");
		return;
	}
	/* Server-sent events must not wait for Nagle's timer. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	client_conn_peer(c, sa, salen);
	TAILQ_INSERT_TAIL(&s->conns, c, next);
	if (s->metered) {
		metrics_connections(1);
	}
	if (++s->nconns >= s->config->limits.connections && !s->paused) {
		log_warn("client: %zu connections: no longer accepting until "
		    "one closes", s->nconns);
		client_pause_accepting(s);
	}
	client_set_state(c, CLIENT_IDLE);
}


/* ---- responses ------------------------------------------------------- */

/* The standard phrase of the statuses the proxy makes itself. */
static const char *
client_reason(int status)
{
	switch (status) {
	case 200:	return ("OK");
	case 204:	return ("No Content");
	case 400:	return ("Bad Request");
	case 403:	return ("Forbidden");
	case 404:	return ("Not Found");
	case 405:	return ("Method Not Allowed");
	case 413:	return ("Content Too Large");
	case 417:	return ("Expectation Failed");
	case 431:	return ("Request Header Fields Too Large");
	case 500:	return ("Internal Server Error");
	case 501:	return ("Not Implemented");
	case 502:	return ("Bad Gateway");
	case 503:	return ("Service Unavailable");
	case 504:	return ("Gateway Timeout");
	case 505:	return ("HTTP Version Not Supported");
	}
	return ("Unknown");
}


static bool
client_status_has_body(const struct client_request *r, int status)
{
	return (!r->is_head && status >= 200 && status != 204 &&
	    status != 304);
}


/* "HTTP/1.1 200 OK\r\n", in one piece when it fits; status is three
 * digits, as the client module and upconn.c both make sure. */
static void
client_write_status(struct evbuffer *out, int status, const char *reason)
{
	char	 line[128];
	size_t	 len = strlen(reason);

	memcpy(line, "HTTP/1.1 000 ", 13);
	line[9] = (char)('0' + status / 100 % 10);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	if (len + 15 > sizeof(line)) {
		evbuffer_add(out, line, 13);
		evbuffer_add(out, reason, len);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	memcpy(line + 13, reason, len);
	memcpy(line + 13 + len, "\r\n", 2);
	evbuffer_add(out, line, len + 15);
}


/* The fields added one by one come first, then the caller's lines:
 * the caller formatted the rest of the head after those. */
static void
client_write_head(struct client_request *r, int status, const char *reason,
    const char *lines, size_t len)
{
	struct client_conn	*c = r->conn;
	struct evbuffer		*out = c->out;

	client_write_status(out, status, reason != NULL ? reason :
	    client_reason(status));
	if (evbuffer_get_length(c->fields) > 0) {
		evbuffer_add_buffer(out, c->fields);
	}
	if (len > 0) {
		evbuffer_add(out, lines, len);
	}
	if (r->add_length) {
		headers_add_number(out, "Content-Length", r->length);
	}
	if (!r->has_date) {
		headers_add(out, "Date", client_date(c->server));
	}
	if (r->reply_chunked) {
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	}
	if (!r->keepalive || r->close_after) {
		evbuffer_add(out, "Connection: close\r\n", 19);
	} else if (r->minor == 0) {
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	}
	evbuffer_add(out, "\r\n", 2);
}


void
client_reply_start(struct client_request *r, int status, const char *reason)
{
	client_reply_start_lines(r, status, reason, NULL, 0);
}


void
client_reply_start_lines(struct client_request *r, int status,
    const char *reason, const char *lines, size_t len)
{
	bool	 has_length;

	has_length = r->has_length;
	if (r->conn->server->draining) {
		r->close_after = true;
	}
	r->reply_body = client_status_has_body(r, status);
	if (r->reply_body && !has_length) {
		if (r->minor >= 1) {
			r->reply_chunked = true;
		} else {
			r->close_after = true;	/* the close ends the body */
		}
	}
	r->started = true;
	client_write_head(r, status, reason, lines, len);
	client_flush_soon(r->conn);
}


void
client_reply_chunk(struct client_request *r, struct evbuffer *data)
{
	struct evbuffer	*out = r->conn->out;
	size_t		 len = evbuffer_get_length(data);

	if (!r->reply_body || len == 0) {
		evbuffer_drain(data, len);
		return;
	}
	if (r->reply_chunked) {
		evbuffer_add_printf(out, "%zx\r\n", len);
	}
	evbuffer_add_buffer(out, data);
	if (r->reply_chunked) {
		evbuffer_add(out, "\r\n", 2);
	}
	client_flush_soon(r->conn);
}


/* The response is complete: keep the connection for the next request,
 * or flush and close it. */
void
client_reply_end(struct client_request *r)
{
	struct client_conn	*c = r->conn;

	if (r->reply_chunked) {
		evbuffer_add(c->out, "0\r\n\r\n", 5);
	}
	r->close_cb = NULL;
	r->drained_cb = NULL;
	/*
	 * A response that came from elsewhere (an upstream) is complete:
	 * out it goes in one write, so the client and the backend behind
	 * it get on with the next request while the loop serves the other
	 * connections.  One answered while client requests are being read
	 * (a preflight) waits for the end of that round, which answers
	 * more requests per wakeup.  Errors, lingering and timers are the
	 * loop's, through client_flush().
	 */
	if (!c->server->reading) {
		(void)sockio_write(c->fd, c->out, CLIENT_IO_MAX);
	}
	client_flush_soon(c);
	if (r->close_after || !r->keepalive) {
		c->read_paused = true;
		client_set_state(c, CLIENT_CLOSING);
		return;
	}
	client_request_clear(r);
	client_request_init(c);
	client_set_state(c, CLIENT_IDLE);
	/* A pipelined request may wait in the buffer, or in the socket
	 * while reading was paused: read it from the loop, not from
	 * inside the proxy's callback that ended this one. */
	if (c->read_paused || evbuffer_get_length(c->in) > 0) {
		client_read_soon(c);
	}
}


void
client_reply(struct client_request *r, int status, const char *reason,
    struct evbuffer *body)
{
	client_reply_lines(r, status, reason, NULL, 0, body);
}


void
client_reply_lines(struct client_request *r, int status, const char *reason,
    const char *lines, size_t len, struct evbuffer *body)
{
	if ((client_status_has_body(r, status) || r->is_head) &&
	    !r->has_length) {
		r->add_length = true;
		r->length = body != NULL ? evbuffer_get_length(body) : 0;
		r->has_length = true;
	}
	client_reply_start_lines(r, status, reason, lines, len);
	if (body != NULL) {
		client_reply_chunk(r, body);
	}
	client_reply_end(r);
}


void
client_abort(struct client_request *r)
{
	r->close_cb = NULL;
	client_conn_free(r->conn);
}


/* ---- the server ------------------------------------------------------ */

struct client_server *
client_server_new(struct event_base *base, const struct config *config,
    client_request_cb *cb, void *arg)
{
	struct client_server	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return (NULL);
	}
	s->base = base;
	s->config = config;
	s->cb = cb;
	s->arg = arg;
	s->idle = client_timeout(base, config->timeouts.client_idle);
	s->header = client_timeout(base, config->timeouts.client_header);
	TAILQ_INIT(&s->conns);
	if ((s->resume = evtimer_new(base, client_accept_resume, s)) == NULL) {
		free(s);
		return (NULL);
	}
	return (s);
}


/* Out of descriptors: pause accepting for a moment, or the listener
 * would spin on the same error. */
static void
client_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct client_server	*s = arg;
	size_t			 i;

	(void)fd;
	(void)what;

	for (i = 0; i < s->nlisteners && !s->paused; i++) {
		evconnlistener_enable(s->listeners[i]);
	}
}


static void
client_accept_error(struct evconnlistener *l, void *arg)
{
	struct client_server	*s = arg;
	struct timeval		 pause = client_tv(100);
	int			 err = EVUTIL_SOCKET_ERROR();
	size_t			 i;

	(void)l;

	log_warn("accept: %s", evutil_socket_error_to_string(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		for (i = 0; i < s->nlisteners; i++) {
			evconnlistener_disable(s->listeners[i]);
		}
		evtimer_add(s->resume, &pause);
	}
}


int
client_server_listen(struct client_server *s, struct evconnlistener *l)
{
	struct evconnlistener	**list;

	list = realloc(s->listeners, (s->nlisteners + 1) * sizeof(*list));
	if (list == NULL) {
		evconnlistener_free(l);
		return (-1);
	}
	s->listeners = list;
	s->listeners[s->nlisteners++] = l;
	evconnlistener_set_cb(l, client_accept, s);
	evconnlistener_set_error_cb(l, client_accept_error);
	if (s->paused) {
		evconnlistener_disable(l);
	}
	return (0);
}


void
client_server_stop(struct client_server *s)
{
	struct client_conn	*c, *next;
	size_t			 i;

	if (s == NULL) {
		return;
	}
	evtimer_del(s->resume);
	for (i = 0; i < s->nlisteners; i++) {
		evconnlistener_free(s->listeners[i]);
	}
	free(s->listeners);
	s->listeners = NULL;
	s->nlisteners = 0;
	/* Connections waiting for a next request close now; busy ones
	 * close after their response. */
	s->draining = true;
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, next);
		if (c->state == CLIENT_IDLE &&
		    evbuffer_get_length(c->in) == 0 &&
		    evbuffer_get_length(c->out) == 0) {
			client_conn_free(c);
		}
	}
}


void
client_server_free(struct client_server *s)
{
	if (s == NULL) {
		return;
	}
	client_server_stop(s);
	while (!TAILQ_EMPTY(&s->conns)) {
		client_conn_free(TAILQ_FIRST(&s->conns));
	}
	event_free(s->resume);
	free(s);
}


void
client_server_meter(struct client_server *s)
{
	s->metered = true;
}


/* ---- accessors ------------------------------------------------------- */

const char *
client_request_method(const struct client_request *r)
{
	return (r->method);
}


const char *
client_request_target(const struct client_request *r)
{
	return (r->target != NULL ? r->target : "-");
}


int
client_request_minor(const struct client_request *r)
{
	return (r->minor);
}


const char *
client_request_peer(const struct client_request *r)
{
	return (r->conn->peer);
}


const struct head *
client_request_head(const struct client_request *r)
{
	return (&r->head);
}


struct evbuffer *
client_request_body(struct client_request *r)
{
	return (r->body);
}


bool
client_request_tls(const struct client_request *r)
{
	(void)r;

	return (false);
}


void
client_response_add(struct client_request *r, const char *name,
    const char *value)
{
	enum headers_name	 n = headers_name(name);

	if (n == HEADERS_CONTENT_LENGTH) {
		r->has_length = true;
	} else if (n == HEADERS_DATE) {
		r->has_date = true;
	}
	headers_add(r->conn->fields, name, value);
}


void
client_response_add_lines(struct client_request *r, const char *lines,
    size_t len)
{
	evbuffer_add(r->conn->fields, lines, len);
}


size_t
client_output_pending(const struct client_request *r)
{
	return (evbuffer_get_length(r->conn->out));
}


void
client_set_close_cb(struct client_request *r, client_close_cb *cb,
    void *arg)
{
	r->close_cb = cb;
	r->close_arg = arg;
}


void
client_set_drained_cb(struct client_request *r, client_drained_cb *cb,
    void *arg)
{
	r->drained_cb = cb;
	r->drained_arg = arg;
}
