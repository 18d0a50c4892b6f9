/*
 * Message bodies.
 *
 * A chunked body is a series of "size[;extension]" lines, each followed
 * by that many bytes and a line end, then a zero size, trailer lines
 * and an empty line.  Extensions are allowed and ignored; trailers are
 * read, counted against their limit and dropped, since a proxy that
 * re-frames the body cannot pass them on faithfully.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "framing.h"

#define FRAMING_LINE_MAX	4096	/* a chunk-size line */

enum {
	FRAMING_CHUNK_SIZE,
	FRAMING_CHUNK_DATA,
	FRAMING_CHUNK_DATA_END,
	FRAMING_CHUNK_TRAILER
};


void
framing_start(struct framing *f, enum framing_kind kind, uint64_t length,
    uint64_t limit, size_t trailer_limit)
{
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->remaining = kind == FRAMING_LENGTH ? length : 0;
	f->limit = limit;
	f->trailer_limit = trailer_limit;
	f->chunk = FRAMING_CHUNK_SIZE;
}


/* Moves up to remaining bytes; returns true when none remain. */
static bool
framing_move(struct framing *f, struct evbuffer *in, struct evbuffer *out)
{
	size_t	 n = evbuffer_get_length(in);

	if (n > f->remaining) {
		n = (size_t)f->remaining;
	}
	evbuffer_remove_buffer(in, out, n);
	f->remaining -= n;
	f->total += n;
	return (f->remaining == 0);
}


/* "1a;ext=value": hex digits, then nothing or an extension. */
static enum framing_result
framing_chunk_size(struct framing *f, const char *line)
{
	size_t		 digits = strspn(line, "0123456789abcdefABCDEF");
	const char	*rest = line + digits;

	rest += strspn(rest, " \t");
	if (digits == 0 || digits > 15 || (*rest != '\0' && *rest != ';')) {
		return (FRAMING_BAD);
	}
	f->remaining = strtoull(line, NULL, 16);
	if (f->limit > 0 && f->total + f->remaining > f->limit) {
		return (FRAMING_TOO_LARGE);
	}
	f->chunk = f->remaining > 0 ? FRAMING_CHUNK_DATA :
	    FRAMING_CHUNK_TRAILER;
	return (FRAMING_MORE);
}


static enum framing_result
framing_chunk_line(struct framing *f, const char *line, size_t len)
{
	switch (f->chunk) {
	case FRAMING_CHUNK_SIZE:
		return (framing_chunk_size(f, line));
	case FRAMING_CHUNK_DATA_END:
		if (len != 0) {
			return (FRAMING_BAD);
		}
		f->chunk = FRAMING_CHUNK_SIZE;
		return (FRAMING_MORE);
	default:
		f->trailer += len + 2;
		if (f->trailer > f->trailer_limit) {
			return (FRAMING_TRAILER_TOO_LARGE);
		}
		return (len == 0 ? FRAMING_DONE : FRAMING_MORE);
	}
}


static enum framing_result
framing_read_chunked(struct framing *f, struct evbuffer *in,
    struct evbuffer *out)
{
	enum framing_result	 rv = FRAMING_MORE;
	char			*line;
	size_t			 len;

	while (rv == FRAMING_MORE) {
		if (f->chunk == FRAMING_CHUNK_DATA) {
			if (!framing_move(f, in, out)) {
				return (FRAMING_MORE);
			}
			f->chunk = FRAMING_CHUNK_DATA_END;
			continue;
		}
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			return (evbuffer_get_length(in) > FRAMING_LINE_MAX ?
			    FRAMING_BAD : FRAMING_MORE);
		}
		rv = framing_chunk_line(f, line, len);
		free(line);
	}
	return (rv);
}


enum framing_result
framing_read(struct framing *f, struct evbuffer *in, struct evbuffer *out)
{
	switch (f->kind) {
	case FRAMING_NONE:
		return (FRAMING_DONE);
	case FRAMING_LENGTH:
		return (framing_move(f, in, out) ? FRAMING_DONE :
		    FRAMING_MORE);
	case FRAMING_CHUNKED:
		return (framing_read_chunked(f, in, out));
	case FRAMING_CLOSE:
		f->remaining = UINT64_MAX;
		framing_move(f, in, out);
		return (FRAMING_MORE);
	}
	return (FRAMING_BAD);
}
