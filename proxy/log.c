/*
 * The error log and the access log.
 *
 * Error lines are "TIME LEVEL: message" on stderr.  Access lines are
 * one per finished request, as text ("key=value" after the request
 * line) or as one JSON object, and every client-controlled value is
 * escaped first so a hostile header cannot forge or split a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

#define LOG_FIELD_MAX	1024

enum config_log_level	 log_level = CONFIG_LOG_INFO;
static FILE		*log_access_file;
static enum config_log_format log_access_format = CONFIG_LOG_TEXT;

static const char *const log_level_names[] = {
	"error", "warn", "info", "debug"
};


static void
log_timestamp(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}


/* libevent's own messages come here, at the matching level. */
static void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_error("libevent: %s", msg);
		break;
	}
}


int
log_init(enum config_log_level level, const char *access,
    enum config_log_format format)
{
	FILE	*f = stderr;

	log_level = level;
	log_access_format = format;
	event_set_log_callback(log_libevent);

	if (access != NULL && strcmp(access, "off") == 0) {
		f = NULL;
	} else if (access != NULL && strcmp(access, "stderr") != 0) {
		if ((f = fopen(access, "a")) == NULL) {
			return (-1);
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	if (log_access_file != NULL && log_access_file != stderr) {
		fclose(log_access_file);
	}
	log_access_file = f;
	return (0);
}


void
log_write(enum config_log_level level, const char *fmt, ...)
{
	char	 ts[40];
	char	 msg[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	log_timestamp(ts, sizeof(ts));
	fprintf(stderr, "%s %s: %s\n", ts, log_level_names[level], msg);
}


/* Escapes for text (\xHH) or for a JSON string (\u00HH). */
static char *
log_escape_as(char *dst, size_t dstlen, const char *src, size_t len,
    bool json)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 c;

	if (dstlen < 12) {
		dst[0] = '\0';
		return (dst);
	}
	for (i = 0; i < len; i++) {
		if (o + 10 > dstlen) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		c = (unsigned char)src[i];
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			memcpy(dst + o, json ? "\\u00" : "\\x", json ? 4 : 2);
			o += json ? 4 : 2;
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return (dst);
}


char *
log_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
	return (log_escape_as(dst, dstlen, src, len, false));
}


static const char *
log_field(char *buf, size_t len, const char *value)
{
	if (value == NULL) {
		return ("-");
	}
	return (log_escape_as(buf, len, value, strlen(value),
	    log_access_format == CONFIG_LOG_JSON));
}


void
log_access(const struct log_access *a)
{
	char	 ts[40], method[64], target[LOG_FIELD_MAX];
	char	 origin[LOG_FIELD_MAX], client[128], policy[256];
	long	 ms = a->duration_us / 1000;
	bool	 json = log_access_format == CONFIG_LOG_JSON;

	if (log_access_file == NULL) {
		return;
	}
	log_timestamp(ts, sizeof(ts));
	/* The same fields in the same order, as JSON or as text. */
	fprintf(log_access_file, json ? "{\"time\":\"%s\",\"client\":\"%s\","
	    "\"method\":\"%s\",\"target\":\"%s\",\"status\":%d,"
	    "\"bytes\":%zu,\"duration_ms\":%ld.%03ld,\"origin\":\"%s\","
	    "\"policy\":\"%s\",\"decision\":\"%s\",\"upstream\":\"%s\"}\n" :
	    "%s %s \"%s %s\" %d %zu %ld.%03ldms origin=\"%s\" policy=%s "
	    "decision=%s upstream=%s\n", ts,
	    log_field(client, sizeof(client), a->client),
	    log_field(method, sizeof(method), a->method),
	    log_field(target, sizeof(target), a->target),
	    a->status, a->bytes, ms, a->duration_us % 1000,
	    log_field(origin, sizeof(origin), a->origin),
	    log_field(policy, sizeof(policy), a->policy),
	    a->decision != NULL ? a->decision : "-",
	    a->upstream != NULL ? a->upstream : "-");
}
