/*
 * Writing header fields.
 */
#include <string.h>

#include <event2/buffer.h>

#include "headers.h"


void
headers_add(struct evbuffer *out, const char *name, const char *value)
{
	size_t	 nlen = strlen(name), vlen = strlen(value);
	char	 line[512];

	if (nlen + vlen + 4 > sizeof(line)) {
		evbuffer_add(out, name, nlen);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, value, vlen);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	memcpy(line, name, nlen);
	memcpy(line + nlen, ": ", 2);
	memcpy(line + nlen + 2, value, vlen);
	memcpy(line + nlen + 2 + vlen, "\r\n", 2);
	evbuffer_add(out, line, nlen + vlen + 4);
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
