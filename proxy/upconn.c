/*
 * One upstream connection.
 *
 * The socket has one edge-triggered event for both directions, added
 * once, so a kept-alive connection costs no epoll_ctl per request, and
 * reads take up to 64 KiB at a time (libevent 2.1's bufferevents read
 * 4 KiB).  With TLS the same event drives the handshake and the
 * records; OpenSSL's WANT_READ and WANT_WRITE simply wait for the next
 * edge.
 *
 * States: CONNECTING, HANDSHAKE, HEAD (request going out, response
 * head coming in), BODY, IDLE between requests, DEAD after a failure.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "framing.h"
#include "head.h"
#include "sockio.h"
#include "token.h"
#include "upconn.h"

#define UPCONN_READ_CHUNK	(64 * 1024)
#define UPCONN_WRITE_MAX	(256 * 1024)
#define UPCONN_FIELDS_MAX	256	/* header fields in a response */

enum upconn_state {
	UPCONN_NEW,
	UPCONN_CONNECTING,
	UPCONN_HANDSHAKE,
	UPCONN_HEAD,
	UPCONN_BODY,
	UPCONN_IDLE,
	UPCONN_DEAD
};

/* What a step of reading found. */
enum upconn_step {
	UPCONN_GO_ON,
	UPCONN_STOP		/* a last callback ran: touch nothing */
};

struct upconn {
	struct upconn_settings		 set;
	struct sockaddr_storage		 addr;
	char				*tls_name;
	evutil_socket_t			 fd;
	SSL				*ssl;
	struct event			*ev;
	struct event			*timer;
	struct evbuffer			*in;
	struct evbuffer			*out;
	struct evbuffer			*body;
	enum upconn_state		 state;
	bool				 paused;
	bool				 used;		/* a request
							 * completed */
	bool				 keepalive;
	bool				 received;	/* of this response */
	bool				 is_head;
	int				 connect_error;	/* errno of a
							 * connect that
							 * failed at once */
	int				 status;
	int				 minor;
	const char			*reason;	/* in head */
	struct head			 head;
	struct framing			 framing;
	const struct upconn_callbacks	*cb;
	void				*arg;
	upconn_idle_close_cb		*idle_cb;
	void				*idle_arg;
};

static void	upconn_io_cb(evutil_socket_t, short, void *);
static void	upconn_timer_cb(evutil_socket_t, short, void *);

/* A timeout that fires on the loop's next turn. */
static const struct timeval	upconn_now = { 0, 0 };


/* ---- life ------------------------------------------------------- */

struct upconn *
upconn_new(const struct upconn_settings *set, upconn_idle_close_cb *idle_cb,
    void *arg)
{
	struct upconn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (NULL);
	}
	c->set = *set;
	c->fd = -1;
	memcpy(&c->addr, set->addr, set->addrlen);
	c->set.addr = (struct sockaddr *)&c->addr;
	c->idle_cb = idle_cb;
	c->idle_arg = arg;
	head_init(&c->head);
	if ((c->tls_name = strdup(set->tls_name)) == NULL ||
	    (c->in = evbuffer_new()) == NULL ||
	    (c->out = evbuffer_new()) == NULL ||
	    (c->body = evbuffer_new()) == NULL ||
	    (c->timer = evtimer_new(set->base, upconn_timer_cb, c)) == NULL) {
		upconn_free(c);
		return (NULL);
	}
	return (c);
}


static void
upconn_close(struct upconn *c)
{
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}


void
upconn_free(struct upconn *c)
{
	if (c == NULL) {
		return;
	}
	upconn_close(c);
	if (c->timer != NULL) {
		event_free(c->timer);
	}
	if (c->in != NULL) {
		evbuffer_free(c->in);
	}
	if (c->out != NULL) {
		evbuffer_free(c->out);
	}
	if (c->body != NULL) {
		evbuffer_free(c->body);
	}
	head_clear(&c->head);
	free(c->tls_name);
	free(c);
}


struct timeval
upconn_timeout(struct event_base *base, long ms)
{
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };
	const struct timeval	*common;

	common = event_base_init_common_timeout(base, &tv);
	return (common != NULL ? *common : tv);
}



/* The last call for a request: after it, c may be gone. */
static enum upconn_step
upconn_fail(struct upconn *c, enum upconn_failure why, const char *detail)
{
	c->state = UPCONN_DEAD;
	evtimer_del(c->timer);
	upconn_close(c);
	c->cb->failed(c->arg, why, detail);
	return (UPCONN_STOP);
}


/* ---- connecting ------------------------------------------------- */

static int
upconn_connect(struct upconn *c)
{
	int	 one = 1;

	c->fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		return (-1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, c->set.addr, c->set.addrlen) == -1 &&
	    errno != EINPROGRESS) {
		return (-1);
	}
	c->ev = event_new(c->set.base, c->fd, EV_READ | EV_WRITE |
	    EV_PERSIST | EV_ET, upconn_io_cb, c);
	if (c->ev == NULL || event_add(c->ev, NULL) == -1) {
		return (-1);
	}
	c->state = UPCONN_CONNECTING;
	evtimer_add(c->timer, &c->set.connect_tv);
	return (0);
}


static int
upconn_tls_start(struct upconn *c)
{
	if ((c->ssl = SSL_new(c->set.ssl_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, c->tls_name) != 1 ||
	    SSL_set1_host(c->ssl, c->tls_name) != 1) {
		return (-1);
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(c->ssl);
	c->state = UPCONN_HANDSHAKE;
	return (0);
}


/* Why the handshake failed, in words: the certificate check first. */
static void
upconn_tls_error(struct upconn *c, char *buf, size_t len)
{
	long		 verify = SSL_get_verify_result(c->ssl);
	unsigned long	 err = ERR_get_error();

	if (verify != X509_V_OK) {
		snprintf(buf, len, "TLS failed: certificate not trusted: %s",
		    X509_verify_cert_error_string(verify));
	} else if (err != 0) {
		snprintf(buf, len, "TLS failed: ");
		ERR_error_string_n(err, buf + strlen(buf), len - strlen(buf));
	} else {
		snprintf(buf, len, "TLS failed: the server closed the "
		    "connection during the handshake");
	}
	ERR_clear_error();
}


/* Called on the connecting socket's first event. */
static enum upconn_step
upconn_connected(struct upconn *c)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);
	char		 msg[200];

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
		err = errno;
	}
	if (err == EINPROGRESS) {
		return (UPCONN_STOP);
	}
	if (err != 0) {
		snprintf(msg, sizeof(msg), "connect: %s", strerror(err));
		return (upconn_fail(c, UPCONN_CONNECT, msg));
	}
	if (c->set.ssl_ctx != NULL && upconn_tls_start(c) == -1) {
		return (upconn_fail(c, UPCONN_TLS, "TLS failed: cannot set "
		    "up the session"));
	}
	if (c->ssl == NULL) {
		c->state = UPCONN_HEAD;
	}
	evtimer_add(c->timer, &c->set.read_tv);
	return (UPCONN_GO_ON);
}


static enum upconn_step
upconn_handshake(struct upconn *c)
{
	char	 msg[300];
	int	 rc;

	ERR_clear_error();
	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		c->state = UPCONN_HEAD;
		return (UPCONN_GO_ON);
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return (UPCONN_STOP);
	default:
		upconn_tls_error(c, msg, sizeof(msg));
		return (upconn_fail(c, UPCONN_TLS, msg));
	}
}


/* ---- moving bytes ----------------------------------------------- */

static int
upconn_write_tls(struct upconn *c)
{
	struct evbuffer_iovec	 v;
	int			 n;

	while (evbuffer_peek(c->out, -1, NULL, &v, 1) > 0) {
		ERR_clear_error();
		n = SSL_write(c->ssl, v.iov_base, (int)v.iov_len);
		if (n <= 0) {
			n = SSL_get_error(c->ssl, n);
			return (n == SSL_ERROR_WANT_WRITE ||
			    n == SSL_ERROR_WANT_READ ? 0 : -1);
		}
		evbuffer_drain(c->out, (size_t)n);
	}
	return (0);
}


/* Reads into in.  Returns 0, 1 at end of stream, -1 on an error. */
static int
upconn_read_tls(struct upconn *c)
{
	struct evbuffer_iovec	 v;
	int			 n;

	for (;;) {
		if (evbuffer_reserve_space(c->in, UPCONN_READ_CHUNK, &v,
		    1) != 1) {
			return (-1);
		}
		ERR_clear_error();
		n = SSL_read(c->ssl, v.iov_base, (int)v.iov_len);
		if (n <= 0) {
			evbuffer_commit_space(c->in, &v, 0);
			n = SSL_get_error(c->ssl, n);
			return (n == SSL_ERROR_WANT_READ ||
			    n == SSL_ERROR_WANT_WRITE ? 0 :
			    n == SSL_ERROR_ZERO_RETURN ||
			    n == SSL_ERROR_SYSCALL ? 1 : -1);
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(c->in, &v, 1);
		if (evbuffer_get_length(c->in) >= UPCONN_WRITE_MAX) {
			/* Enough for now; the rest after this is handled. */
			event_active(c->ev, EV_READ, 1);
			return (0);
		}
	}
}


/* ---- the response ----------------------------------------------- */

/* "HTTP/1.1 200 OK": the version, three digits, an optional reason. */
static int
upconn_status_line(struct upconn *c, const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) ||
	    (line[12] != '\0' && line[12] != ' ')) {
		return (-1);
	}
	c->minor = line[7] - '0';
	c->status = atoi(line + 9);
	c->reason = line[12] == ' ' ? line + 13 : "";
	return (c->status < 100 ? -1 : 0);
}


/* How the body is framed, from the request and the response head. */
static int
upconn_framing(struct upconn *c)
{
	const char	*te = head_value(&c->head, HEADERS_TRANSFER_ENCODING);
	const char	*cl = head_value(&c->head, HEADERS_CONTENT_LENGTH);
	size_t		 ncl = head_count(&c->head, HEADERS_CONTENT_LENGTH);

	c->keepalive = c->minor >= 1 ?
	    !head_lists(&c->head, HEADERS_CONNECTION, "close") :
	    head_lists(&c->head, HEADERS_CONNECTION, "keep-alive");
	if (c->is_head || c->status == 204 || c->status == 304) {
		framing_start(&c->framing, FRAMING_NONE, 0, 0, 0);
	} else if (te != NULL) {
		/* Anything but chunked last is delimited by the close. */
		te = strrchr(te, ',') != NULL ? strrchr(te, ',') + 1 : te;
		te += strspn(te, " \t");
		framing_start(&c->framing, strncasecmp(te, "chunked", 7) == 0 ?
		    FRAMING_CHUNKED : FRAMING_CLOSE, 0, 0,
		    c->set.header_max);
	} else if (cl != NULL) {
		if (ncl > 1 || cl[0] == '\0' || strlen(cl) > 18 ||
		    strspn(cl, "0123456789") != strlen(cl)) {
			return (-1);
		}
		framing_start(&c->framing, FRAMING_LENGTH,
		    strtoull(cl, NULL, 10), 0, 0);
	} else {
		framing_start(&c->framing, FRAMING_CLOSE, 0, 0, 0);
	}
	if (c->framing.kind == FRAMING_CLOSE) {
		c->keepalive = false;
	}
	return (0);
}


/* The final head is complete: start the body and hand the head over. */
static enum upconn_step
upconn_head_done(struct upconn *c)
{
	if (c->status == 101 || upconn_framing(c) == -1) {
		return (upconn_fail(c, UPCONN_BROKEN, c->status == 101 ?
		    "switched protocols, which is not supported here" :
		    "a malformed Content-Length"));
	}
	c->state = UPCONN_BODY;
	c->cb->headers(c->arg, c->status, c->reason, &c->head);
	return (UPCONN_GO_ON);
}


/* Reads heads until the final one: interim 1xx heads are dropped. */
static enum upconn_step
upconn_read_head(struct upconn *c)
{
	const char	*error = NULL;

	for (;;) {
		switch (head_read(&c->head, c->in, c->set.header_max,
		    UPCONN_FIELDS_MAX, &error)) {
		case HEAD_MORE:
			return (UPCONN_GO_ON);
		case HEAD_DONE:
			break;
		case HEAD_TOO_LARGE:
		case HEAD_TOO_MANY:
			return (upconn_fail(c, UPCONN_BROKEN, "a response head "
			    "over the size limit"));
		default:
			return (upconn_fail(c, UPCONN_BROKEN, "an invalid "
			    "response head"));
		}
		if (upconn_status_line(c, c->head.start) == -1) {
			return (upconn_fail(c, UPCONN_BROKEN, "an invalid "
			    "status line"));
		}
		if (c->status >= 200 || c->status == 101) {
			return (upconn_head_done(c));
		}
		head_clear(&c->head);
	}
}


/* The response is complete: idle until the next request. */
static enum upconn_step
upconn_finish(struct upconn *c)
{
	c->state = UPCONN_IDLE;
	c->used = true;
	head_clear(&c->head);
	c->status = 0;
	if (!c->keepalive || evbuffer_get_length(c->in) > 0) {
		/* Bytes past the response: the server is confused. */
		c->keepalive = false;
		upconn_close(c);
	}
	evtimer_add(c->timer, &c->set.read_tv);
	c->cb->done(c->arg);
	return (UPCONN_STOP);
}


static enum upconn_step
upconn_read_body(struct upconn *c, bool eof)
{
	enum framing_result	 rv;

	rv = framing_read(&c->framing, c->in, c->body);
	if (evbuffer_get_length(c->body) > 0) {
		c->cb->body(c->arg, c->body);
	}
	if (rv == FRAMING_DONE ||
	    (eof && c->framing.kind == FRAMING_CLOSE)) {
		return (upconn_finish(c));
	}
	if (rv != FRAMING_MORE) {
		return (upconn_fail(c, UPCONN_BROKEN, "malformed chunked "
		    "framing"));
	}
	return (UPCONN_GO_ON);
}


/* Runs the response states over what is buffered. */
static enum upconn_step
upconn_parse(struct upconn *c, bool eof)
{
	if (c->state == UPCONN_HEAD &&
	    upconn_read_head(c) == UPCONN_STOP) {
		return (UPCONN_STOP);
	}
	if (c->state == UPCONN_BODY && !c->paused) {
		if (upconn_read_body(c, eof) == UPCONN_STOP) {
			return (UPCONN_STOP);
		}
	}
	if (eof) {
		return (upconn_fail(c, UPCONN_BROKEN, c->received ?
		    "closed the connection before the response was complete" :
		    "closed the connection without a response"));
	}
	return (UPCONN_GO_ON);
}


static enum upconn_step
upconn_on_read(struct upconn *c)
{
	int	 rc;

	if (c->paused) {
		return (UPCONN_GO_ON);
	}
	rc = c->ssl != NULL ? upconn_read_tls(c) :
	    sockio_read(c->fd, c->in, UPCONN_READ_CHUNK, c->ev);
	if (rc == -1) {
		return (upconn_fail(c, UPCONN_BROKEN, strerror(errno)));
	}
	if (evbuffer_get_length(c->in) > 0) {
		c->received = true;
		evtimer_add(c->timer, &c->set.read_tv);
	}
	return (upconn_parse(c, rc == 1));
}


/* Between requests the server has nothing to say: anything it sends,
 * or its closing, ends the connection. */
static void
upconn_idle_event(struct upconn *c)
{
	char	 probe;
	int	 n;

	if (c->ssl == NULL) {
		if (recv(c->fd, &probe, 1, MSG_PEEK) == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		}
	} else {
		/* TLS 1.3 session tickets may come now: no data. */
		ERR_clear_error();
		n = SSL_read(c->ssl, &probe, 1);
		if (n <= 0 && SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ) {
			return;
		}
	}
	upconn_close(c);
	c->idle_cb(c, c->idle_arg);
}


static void
upconn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upconn	*c = arg;

	(void)fd;

	if (c->state == UPCONN_IDLE) {
		/* Write readiness comes and goes with every ack. */
		if (what & EV_READ) {
			upconn_idle_event(c);
		}
		return;
	}
	if (c->state == UPCONN_CONNECTING &&
	    upconn_connected(c) == UPCONN_STOP) {
		return;
	}
	if (c->state == UPCONN_HANDSHAKE &&
	    upconn_handshake(c) == UPCONN_STOP) {
		return;
	}
	if ((c->ssl != NULL ? upconn_write_tls(c) :
	    sockio_write(c->fd, c->out, UPCONN_WRITE_MAX)) == -1) {
		upconn_fail(c, UPCONN_BROKEN, strerror(errno));
		return;
	}
	/* On plain TCP only a read edge (or sockio_read, or a resume,
	 * asking to come back) says there is something to read: right
	 * after a request is written a read would find nothing, one
	 * wasted call.  OpenSSL may hold bytes no edge will announce. */
	if ((what & EV_READ) || c->ssl != NULL) {
		upconn_on_read(c);
	}
}


static void
upconn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upconn	*c = arg;
	char		 msg[200];

	(void)fd;
	(void)what;

	switch (c->state) {
	case UPCONN_CONNECTING:
	case UPCONN_HANDSHAKE:
		if (c->connect_error != 0) {
			snprintf(msg, sizeof(msg), "connect: %s",
			    strerror(c->connect_error));
			upconn_fail(c, UPCONN_CONNECT, msg);
			break;
		}
		upconn_fail(c, UPCONN_CONNECT_TIMEOUT, "connect timed out");
		break;
	case UPCONN_IDLE:
		upconn_close(c);
		c->idle_cb(c, c->idle_arg);
		break;
	default:
		upconn_fail(c, UPCONN_TIMEOUT, "no answer within "
		    "timeouts.upstream_read");
		break;
	}
}


/* ---- the interface ---------------------------------------------- */

struct evbuffer *
upconn_output(struct upconn *c)
{
	return (c->out);
}


void
upconn_request(struct upconn *c, bool is_head,
    const struct upconn_callbacks *cb, void *arg)
{
	c->cb = cb;
	c->arg = arg;
	c->is_head = is_head;
	c->received = false;
	c->paused = false;
	if (c->fd == -1) {
		if (upconn_connect(c) == -1) {
			/* Reported from the loop, not inside the caller. */
			c->connect_error = errno;
			upconn_close(c);
			c->state = UPCONN_CONNECTING;
			evtimer_add(c->timer, &upconn_now);
		}
		return;
	}
	c->state = UPCONN_HEAD;
	evtimer_add(c->timer, &c->set.read_tv);
	event_active(c->ev, EV_WRITE, 1);
}


void
upconn_pause(struct upconn *c, bool paused)
{
	if (c->paused == paused || c->ev == NULL) {
		c->paused = paused;
		return;
	}
	c->paused = paused;
	if (paused) {
		/* A slow client is no fault of the server's. */
		evtimer_del(c->timer);
	} else {
		evtimer_add(c->timer, &c->set.read_tv);
		event_active(c->ev, EV_READ, 1);
	}
}


bool
upconn_reusable(const struct upconn *c)
{
	return (c->state == UPCONN_IDLE && c->keepalive && c->fd != -1);
}


bool
upconn_reused(const struct upconn *c)
{
	return (c->used);
}


bool
upconn_nothing_received(const struct upconn *c)
{
	return (!c->received);
}
