/*
 * The admin address.
 *
 * GET /healthz answers 200 while the process serves; GET /metrics
 * answers the counters of metrics.c.  Anything else is 404, and a
 * method other than GET or HEAD is 405.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "admin.h"
#include "client.h"
#include "metrics.h"


static void
admin_reply_text(struct client_request *req, int status, const char *reason,
    const char *content_type, struct evbuffer *body)
{
	client_response_add(req, "Content-Type", content_type);
	client_reply(req, status, reason, body);
}


void
admin_handle(struct client_request *req, int refused, const char *message,
    void *arg)
{
	const char	*method = client_request_method(req);
	const char	*target = client_request_target(req);
	struct evbuffer	*body;

	(void)arg;

	if ((body = evbuffer_new()) == NULL) {
		client_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	if (refused != 0) {
		evbuffer_add_printf(body, "%s\n", message);
		admin_reply_text(req, refused, NULL,
		    "text/plain; charset=utf-8", body);
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		evbuffer_add_printf(body, "only GET and HEAD\n");
		client_response_add(req, "Allow", "GET, HEAD");
		admin_reply_text(req, 405, "Method Not Allowed",
		    "text/plain; charset=utf-8", body);
	} else if (strcmp(target, "/healthz") == 0) {
		evbuffer_add_printf(body, "ok\n");
		admin_reply_text(req, 200, "OK", "text/plain; charset=utf-8",
		    body);
	} else if (strcmp(target, "/metrics") == 0) {
		metrics_render(body);
		admin_reply_text(req, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", body);
	} else {
		evbuffer_add_printf(body, "not found: try /healthz or "
		    "/metrics\n");
		admin_reply_text(req, 404, "Not Found",
		    "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}
