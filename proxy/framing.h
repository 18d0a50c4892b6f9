/*
 * Message bodies as HTTP/1.1 frames them: a Content-Length, chunked
 * transfer coding, or (responses only) the end of the connection.
 * Used for request bodies read from clients and response bodies read
 * from upstreams alike.  Plain data: no sockets, no events.
 */
#ifndef CORSPROXY_FRAMING_H
#define CORSPROXY_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

enum framing_kind {
	FRAMING_NONE,		/* no body */
	FRAMING_LENGTH,		/* Content-Length bytes */
	FRAMING_CHUNKED,
	FRAMING_CLOSE		/* until the connection ends */
};

enum framing_result {
	FRAMING_MORE,		/* wait for more bytes */
	FRAMING_DONE,		/* the body is complete */
	FRAMING_BAD,		/* malformed chunk framing */
	FRAMING_TOO_LARGE,	/* over the body limit */
	FRAMING_TRAILER_TOO_LARGE
};

struct framing {
	enum framing_kind	 kind;
	int			 chunk;		/* where in a chunk */
	uint64_t		 remaining;	/* of the body or the chunk */
	uint64_t		 total;		/* body bytes so far */
	uint64_t		 limit;		/* 0: none */
	size_t			 trailer;	/* trailer bytes so far */
	size_t			 trailer_limit;
};

/* Starts reading a body of kind; length is the Content-Length. */
void	framing_start(struct framing *, enum framing_kind, uint64_t length,
	    uint64_t limit, size_t trailer_limit);

/* Moves what in holds of the body into out, decoded; trailers are
 * read and dropped.  FRAMING_CLOSE never ends here: the caller ends it
 * when the connection does. */
enum framing_result framing_read(struct framing *, struct evbuffer *in,
	    struct evbuffer *out);

#endif
