/*
 * Message heads.
 *
 * The head is found first (the empty line that ends it), copied out in
 * one piece, and split in place: line ends become NULs, and an array of
 * evkeyval placed after the text holds the fields.  Lines may end in
 * CRLF or a bare LF; a CR anywhere else is a control byte and refused.
 */
#include <sys/queue.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "head.h"
#include "token.h"

struct head_index {
	unsigned char		 count[HEADERS_NNAMES];
	const char		*last[HEADERS_NNAMES];
	const struct evkeyval	*first;		/* the fields' array */
	unsigned char		*names;		/* each field's name */
};


void
head_init(struct head *h)
{
	memset(h, 0, sizeof(*h));
	TAILQ_INIT(&h->fields);
}


void
head_clear(struct head *h)
{
	free(h->block);
	head_init(h);
}


/* Drops empty lines before the start line (RFC 9112 allows them). */
static void
head_skip_empty(struct evbuffer *in)
{
	unsigned char	*p;
	size_t		 n;

	while ((n = evbuffer_get_length(in)) > 0) {
		p = evbuffer_pullup(in, n < 2 ? (ev_ssize_t)n : 2);
		if (p[0] == '\n') {
			evbuffer_drain(in, 1);
		} else if (p[0] == '\r' && n >= 2 && p[1] == '\n') {
			evbuffer_drain(in, 2);
		} else {
			return;
		}
	}
}


/* Returns the length of the head (through its empty line) in the first
 * avail bytes at p, or 0 when it does not end there. */
static size_t
head_length(const char *p, size_t avail)
{
	const char	*nl = p;

	while ((nl = memchr(nl, '\n', avail - (size_t)(nl - p))) != NULL) {
		size_t	 rest = avail - (size_t)(nl - p) - 1;

		if (rest >= 1 && nl[1] == '\n') {
			return ((size_t)(nl - p) + 2);
		}
		if (rest >= 2 && nl[1] == '\r' && nl[2] == '\n') {
			return ((size_t)(nl - p) + 3);
		}
		nl++;
	}
	return (0);
}


/* Field values: visible bytes, obs-text, spaces and tabs. */
static bool
head_is_value(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return (false);
		}
	}
	return (true);
}


/* One "name: value" line, split in place into kv. */
static enum head_result
head_field(char *line, struct evkeyval *kv, const char **error)
{
	char	*colon, *value, *end;

	if (line[0] == ' ' || line[0] == '\t') {
		*error = "folded header lines are not allowed";
		return (HEAD_BAD);
	}
	if ((colon = strchr(line, ':')) == NULL ||
	    !token_valid(line, (size_t)(colon - line))) {
		*error = "malformed header field";
		return (HEAD_BAD);
	}
	*colon = '\0';
	value = colon + 1 + strspn(colon + 1, " \t");
	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t')) {
		*--end = '\0';
	}
	if (!head_is_value(value)) {
		*error = "control characters in a header value";
		return (HEAD_BAD);
	}
	kv->key = line;
	kv->value = value;
	return (HEAD_DONE);
}


static void
head_index_add(struct head_index *x, const struct evkeyval *kv)
{
	enum headers_name	 n = headers_name(kv->key);

	x->names[kv - x->first] = (unsigned char)n;
	if (x->count[n] < 255) {
		x->count[n]++;
	}
	x->last[n] = kv->value;
}


/* Splits text (len bytes, ending in its empty line) into the start
 * line and the fields. */
static enum head_result
head_split(struct head *h, char *text, size_t len, struct evkeyval *kv,
    size_t max_fields, const char **error)
{
	char			*line = text, *nl;
	enum head_result	 rv;

	for (; (nl = memchr(line, '\n', len - (size_t)(line - text))) !=
	    NULL; line = nl + 1) {
		if (memchr(line, '\0', (size_t)(nl - line)) != NULL) {
			*error = h->start == NULL ? "a NUL byte in the request "
			    "line" : "control characters in a header value";
			return (HEAD_BAD);
		}
		*nl = '\0';
		if (nl > line && nl[-1] == '\r') {
			nl[-1] = '\0';
		}
		if (h->start == NULL) {
			h->start = line;
			continue;
		}
		if (line[0] == '\0') {
			return (HEAD_DONE);
		}
		if (++h->nfields > max_fields) {
			return (HEAD_TOO_MANY);
		}
		if ((rv = head_field(line, kv, error)) != HEAD_DONE) {
			return (rv);
		}
		head_index_add(h->index, kv);
		TAILQ_INSERT_TAIL(&h->fields, kv, next);
		kv++;
	}
	return (HEAD_DONE);
}


/* Copies the first len bytes of in into a new block and splits them.
 * With partial set, in keeps its bytes: the head is being refused and
 * only its fields so far are wanted, say an Origin for CORS headers. */
static enum head_result
head_take(struct head *h, struct evbuffer *in, size_t len,
    size_t max_fields, bool partial, const char **error)
{
	const char	*p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	const char	*nl = p, *end = p + len;
	size_t		 lines = 0, fields;
	char		*text;

	while ((nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL) {
		lines++;
		nl++;
	}
	/* The index, then the fields, then their names, then the text:
	 * the index and evkeyval, made of pointers, start aligned. */
	fields = sizeof(struct head_index) + lines * sizeof(struct evkeyval);
	if ((h->block = malloc(fields + lines + len + 1)) == NULL) {
		*error = "out of memory";
		return (HEAD_BAD);
	}
	h->index = (struct head_index *)h->block;
	memset(h->index, 0, sizeof(*h->index));
	h->index->first = (struct evkeyval *)(h->index + 1);
	h->index->names = (unsigned char *)h->block + fields;
	text = h->block + fields + lines;
	if (partial) {
		memcpy(text, p, len);
	} else {
		evbuffer_remove(in, text, len);
	}
	text[len] = '\0';
	h->bytes = len;
	return (head_split(h, text, len, (struct evkeyval *)h->index->first,
	    max_fields, error));
}


enum head_result
head_read(struct head *h, struct evbuffer *in, size_t max_bytes,
    size_t max_fields, const char **error)
{
	size_t		 avail, len;
	const char	*p, *last;

	head_skip_empty(in);
	if ((avail = evbuffer_get_length(in)) == 0) {
		return (HEAD_MORE);
	}
	avail = avail < max_bytes + 3 ? avail : max_bytes + 3;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)avail);
	if ((len = head_length(p, avail)) != 0 && len <= max_bytes + 2) {
		return (head_take(h, in, len, max_fields, false, error));
	}
	if (evbuffer_get_length(in) <= max_bytes) {
		return (HEAD_MORE);
	}
	if ((last = memrchr(p, '\n', avail)) != NULL) {
		head_take(h, in, (size_t)(last - p) + 1, max_fields, true,
		    error);
	}
	return (HEAD_TOO_LARGE);
}


size_t
head_count(const struct head *h, enum headers_name n)
{
	return (h->index != NULL ? h->index->count[n] : 0);
}


const char *
head_value(const struct head *h, enum headers_name n)
{
	return (h->index != NULL ? h->index->last[n] : NULL);
}


enum headers_name
head_name(const struct head *h, const struct evkeyval *kv)
{
	return ((enum headers_name)h->index->names[kv - h->index->first]);
}


bool
head_lists(const struct head *h, enum headers_name n, const char *token)
{
	const struct evkeyval	*kv;

	switch (head_count(h, n)) {
	case 0:
		return (false);
	case 1:
		return (token_list_has(head_value(h, n), token));
	}
	TAILQ_FOREACH(kv, &h->fields, next) {
		if (head_name(h, kv) == n &&
		    token_list_has(kv->value, token)) {
			return (true);
		}
	}
	return (false);
}
