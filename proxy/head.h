/*
 * A message head (request or status line, then header fields), read
 * whole from a buffer into one block: the start line and every field
 * point into it, and the fields are linked as an evkeyvalq so the
 * usual lookups work.  One allocation a message instead of one per
 * line and three per field.  The fields the proxy looks at
 * (headers.h) are counted while the head is split, so finding one
 * costs no scan.
 */
#ifndef CORSPROXY_HEAD_H
#define CORSPROXY_HEAD_H

#include <stddef.h>

#include <stdbool.h>

#include <event2/keyvalq_struct.h>

#include "headers.h"

struct evbuffer;
struct head_index;

struct head {
	char			*block;		/* owns everything below */
	struct head_index	*index;		/* in the block */
	char			*start;		/* the first line */
	struct evkeyvalq	 fields;
	size_t			 nfields;
	size_t			 bytes;		/* its size on the wire */
};

enum head_result {
	HEAD_MORE,		/* not complete yet */
	HEAD_DONE,
	HEAD_TOO_LARGE,		/* over max_bytes */
	HEAD_TOO_MANY,		/* over max_fields */
	HEAD_BAD		/* error says what */
};

/* Starts empty. */
void		 head_init(struct head *);

/*
 * Takes a complete head off the front of in (leading empty lines are
 * skipped), or nothing when it is not complete yet.  Field names must
 * be tokens; folded lines and control bytes in values are refused.
 */
enum head_result head_read(struct head *, struct evbuffer *in,
		    size_t max_bytes, size_t max_fields, const char **error);

/* The number of fields called name (at most 255 are counted), and the
 * value of the last one, or NULL when there is none. */
size_t		 head_count(const struct head *, enum headers_name);
const char	*head_value(const struct head *, enum headers_name);

/* Which known name field kv of h has, as headers_name() said when the
 * head was split. */
enum headers_name head_name(const struct head *, const struct evkeyval *kv);

/* Returns true when any field called name lists token (token.h). */
bool		 head_lists(const struct head *, enum headers_name,
		    const char *token);

/* Frees the block; the head is empty again. */
void		 head_clear(struct head *);

#endif
