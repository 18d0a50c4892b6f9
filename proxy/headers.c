/*
 * Header fields by name, and writing them.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "headers.h"

/* The names headers_name() knows, sorted by length. */
#define HEADERS_KNOWN(text, name)	{ text, sizeof(text) - 1, name }

static const struct {
	const char		*text;
	size_t			 len;
	enum headers_name	 name;
} headers_known[] = {
	HEADERS_KNOWN("TE", HEADERS_TE),
	HEADERS_KNOWN("Host", HEADERS_HOST),
	HEADERS_KNOWN("Date", HEADERS_DATE),
	HEADERS_KNOWN("Vary", HEADERS_VARY),
	HEADERS_KNOWN("Expect", HEADERS_EXPECT),
	HEADERS_KNOWN("Origin", HEADERS_ORIGIN),
	HEADERS_KNOWN("Upgrade", HEADERS_UPGRADE),
	HEADERS_KNOWN("Trailer", HEADERS_TRAILER),
	HEADERS_KNOWN("Connection", HEADERS_CONNECTION),
	HEADERS_KNOWN("Keep-Alive", HEADERS_KEEP_ALIVE),
	HEADERS_KNOWN("Content-Length", HEADERS_CONTENT_LENGTH),
	HEADERS_KNOWN("X-Forwarded-For", HEADERS_X_FORWARDED_FOR),
	HEADERS_KNOWN("Proxy-Connection", HEADERS_PROXY_CONNECTION),
	HEADERS_KNOWN("X-Forwarded-Host", HEADERS_X_FORWARDED_HOST),
	HEADERS_KNOWN("Transfer-Encoding", HEADERS_TRANSFER_ENCODING),
	HEADERS_KNOWN("X-Forwarded-Proto", HEADERS_X_FORWARDED_PROTO),
	HEADERS_KNOWN("Proxy-Authorization", HEADERS_PROXY_AUTHORIZATION),
	HEADERS_KNOWN("Access-Control-Request-Method",
	    HEADERS_AC_REQUEST_METHOD),
	HEADERS_KNOWN("Access-Control-Request-Headers",
	    HEADERS_AC_REQUEST_HEADERS),
	HEADERS_KNOWN("Access-Control-Request-Private-Network",
	    HEADERS_AC_REQUEST_PRIVATE_NETWORK),
};
#define HEADERS_NKNOWN	(sizeof(headers_known) / sizeof(headers_known[0]))


enum headers_name
headers_name(const char *name)
{
	size_t	 len = strlen(name), i;

	/* The table is short and sorted by length: skip to the length. */
	for (i = 0; i < HEADERS_NKNOWN; i++) {
		size_t	 klen = headers_known[i].len;

		if (klen > len) {
			break;
		}
		if (klen == len &&
		    strcasecmp(name, headers_known[i].text) == 0) {
			return (headers_known[i].name);
		}
	}
	if (len > 15 && strncasecmp(name, "Access-Control-", 15) == 0) {
		return (HEADERS_AC_OTHER);
	}
	return (HEADERS_OTHER);
}


bool
headers_is_hop_by_hop(enum headers_name n)
{
	return (n >= HEADERS_CONNECTION && n <= HEADERS_EXPECT);
}


bool
headers_is_cors(enum headers_name n)
{
	return (n >= HEADERS_AC_REQUEST_METHOD && n <= HEADERS_AC_OTHER);
}


size_t
headers_line(char *buf, size_t len, const char *name, const char *value)
{
	size_t	 nlen = strlen(name), vlen = strlen(value);

	if (nlen + vlen + 4 > len) {
		return 0;
	}
	memcpy(buf, name, nlen);
	memcpy(buf + nlen, ": ", 2);
	memcpy(buf + nlen + 2, value, vlen);
	memcpy(buf + nlen + 2 + vlen, "\r\n", 2);
	return nlen + vlen + 4;
}


void
headers_add(struct evbuffer *out, const char *name, const char *value)
{
	char	 line[512];
	size_t	 n;

	if ((n = headers_line(line, sizeof(line), name, value)) > 0) {
		evbuffer_add(out, line, n);
		return;
	}
	evbuffer_add(out, name, strlen(name));
	evbuffer_add(out, ": ", 2);
	evbuffer_add(out, value, strlen(value));
	evbuffer_add(out, "\r\n", 2);
}


void
headers_add_number(struct evbuffer *out, const char *name,
    unsigned long long n)
{
	char	 digits[24];
	size_t	 i = sizeof(digits) - 1;

	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	headers_add(out, name, digits + i);
}
