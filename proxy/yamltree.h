/*
 * A small YAML document tree for the config loader.
 *
 * libyaml's event parser is read into nodes that each remember where
 * they stand in the file, so every later complaint about a value can
 * point at its line and column.  Only what a configuration needs is
 * kept: scalars (with whether they were quoted), sequences and
 * mappings with scalar keys.  Duplicate keys, aliases and nesting
 * deeper than YAMLTREE_MAX_DEPTH are errors.
 */
#ifndef CORSPROXY_YAMLTREE_H
#define CORSPROXY_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

#define YAMLTREE_MAX_DEPTH	64

enum yamltree_kind {
	YAMLTREE_SCALAR,
	YAMLTREE_SEQUENCE,
	YAMLTREE_MAPPING
};

struct yamltree_node;

struct yamltree_pair {
	struct yamltree_node	*key;		/* always a scalar */
	struct yamltree_node	*value;
};

struct yamltree_node {
	enum yamltree_kind	 kind;
	struct diag_mark	 mark;		/* where the node starts */
	char			*text;		/* scalar, NUL-terminated */
	bool			 quoted;	/* scalar: quoted, block or
						 * tagged !!str, so never a
						 * number or a boolean */
	struct yamltree_node	**items;	/* sequence */
	size_t			 nitems;
	struct yamltree_pair	*pairs;		/* mapping, in file order */
	size_t			 npairs;
};

/*
 * Reads file into *root (NULL for an empty document).  Every mark in
 * the tree points at file itself, so the string must outlive the tree
 * and any mark copied from it.  When the file cannot be opened, the
 * error is reported at from (the place that named the file) or, when
 * from is NULL, at the file itself.  Returns 0, or -1 when the file
 * could not be read or parsed; errors go to diag either way, and
 * duplicate keys are reported without failing the load.  Free the
 * tree with yamltree_free().
 */
int		 yamltree_load(const char *file, const struct diag_mark *from,
		    struct yamltree_node **root, struct diag *);

/* Frees a node and everything under it; yamltree_free(NULL) does
 * nothing. */
void		 yamltree_free(struct yamltree_node *);

/* Returns the value of key in a mapping, or NULL when absent. */
const struct yamltree_node *yamltree_get(const struct yamltree_node *,
		    const char *key);

/* Returns "a string", "a list" or "a mapping", for messages. */
const char	*yamltree_kind_name(const struct yamltree_node *);

#endif
