/*
 * Reading YAML mappings into structs through tables of keys.
 *
 * A table has one row per key: the node kinds it accepts, what it must
 * be (for messages) and the setter that stores it.  schema_walk() runs
 * every key of a mapping against a table, reports unknown keys with
 * the nearest known name and values of the wrong kind, and goes on
 * after each mistake so that one run shows them all.
 */
#ifndef CORSPROXY_SCHEMA_H
#define CORSPROXY_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "yamltree.h"

/* The node kinds a key accepts. */
#define SCHEMA_T_SCALAR		0x1
#define SCHEMA_T_LIST		0x2
#define SCHEMA_T_MAP		0x4

#define SCHEMA_END	{ NULL, 0, NULL, NULL, 0, NULL }

/* What every setter gets: where errors go, and the state of whoever
 * started the walk, for the setters that need more than the target. */
struct schema_ctx {
	struct diag	*diag;
	void		*owner;
};

struct schema_key;

typedef void	schema_setter(struct schema_ctx *, const struct schema_key *,
		    const struct yamltree_node *, void *target);

/*
 * One row of a key table.  The setter gets the value node and the
 * struct being filled; offset says where in that struct the key's
 * field is, and arg carries what a generic setter needs besides: the
 * names of an enum, a nested table, or the noun for a list's items.
 */
struct schema_key {
	const char		*name;
	unsigned		 types;
	const char		*expect;	/* "must be ..." in messages */
	schema_setter		*set;
	size_t			 offset;
	const void		*arg;
};

/* A running search for the known name nearest to a misspelt one;
 * zero it and set word before the first schema_near_try(). */
struct schema_near {
	const char	*word;
	const char	*best;
	size_t		 distance;
};

/* Calls the setter of each key of map that keys knows, with target;
 * reports unknown keys and values of a kind the key does not take. */
void		 schema_walk(struct schema_ctx *,
		    const struct yamltree_node *map,
		    const struct schema_key *keys, void *target);

/* The generic setters.  section walks the table in arg over the struct
 * at offset; node keeps the node itself; string strdup()s; enum stores
 * the index of the value in the names of arg as an int; count, size
 * and duration store a size_t, a size_t and milliseconds in a long. */
schema_setter	 schema_set_section, schema_set_node, schema_set_string;
schema_setter	 schema_set_enum, schema_set_bool, schema_set_count;
schema_setter	 schema_set_size, schema_set_duration;

/* Reads a plain, unquoted decimal number no larger than INT_MAX into
 * out; returns 0, or -1 when it is anything else. */
int		 schema_number(const struct yamltree_node *, long *out);

/* Reports v, which schema_number() refused, as a bad value for k. */
void		 schema_bad_number(struct schema_ctx *,
		    const struct schema_key *k, const struct yamltree_node *v);

/* Weighs candidate against near->word and keeps it if it is the
 * nearest so far and near enough. */
void		 schema_near_try(struct schema_near *, const char *candidate);

/* Reports the unknown what near->word at mark, with the nearest known
 * name when there is one. */
void		 schema_unknown(struct schema_ctx *, const struct diag_mark *,
		    const char *what, const struct schema_near *);

/* Reports running out of memory at mark, which may be NULL. */
void		 schema_nomem(struct schema_ctx *, const struct diag_mark *);

/* Returns array grown by one zeroed element at index n, or NULL (the
 * old array is then still valid). */
void		*schema_append(void *array, size_t n, size_t size);

#endif
