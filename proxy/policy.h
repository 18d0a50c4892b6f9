/*
 * CORS policies as loaded from a policy file or an inline list.
 *
 * A policy says which origins it covers and what those origins may do.
 * The config loader fills these structs; the CORS decision (cors.c)
 * reads them.  They are immutable once loaded and freed with the
 * config that owns them.
 */
#ifndef CORSPROXY_POLICY_H
#define CORSPROXY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "origin.h"

enum policy_mode {
	POLICY_ENFORCE,
	POLICY_REPORT		/* deny nothing, log every would-be denial */
};

enum policy_on_denied {
	POLICY_DENIED_FORWARD,	/* forward, without CORS headers */
	POLICY_DENIED_REJECT	/* answer 403, backend not contacted */
};

/* A list of tokens such as methods or header names, or "*". */
struct policy_list {
	bool	  any;		/* "*": reflect what the request asks for */
	char	**items;	/* as written */
	size_t	  count;
	char	 *joined;	/* items joined with ", ": a header value */
};

struct policy {
	char			*name;
	struct diag_mark	 mark;		/* where "- name:" stands */
	struct origin_pattern	*origins;
	size_t			 norigins;
	struct policy_list	 allow_methods;	/* default: GET HEAD POST
						 * PUT PATCH DELETE */
	struct policy_list	 allow_headers;	/* default: any */
	struct policy_list	 expose_headers; /* default: none */
	bool			 allow_credentials;
	long			 max_age;	/* seconds; -1: not sent */
	bool			 allow_private_network;
	enum policy_on_denied	 on_denied;
};

struct policy_set {
	enum policy_mode	 mode;
	char			*file;		/* where they came from, or
						 * NULL for inline/defaults */
	struct policy		*policies;
	size_t			 count;
};

/* Frees what the set owns, not the struct itself. */
void	policy_set_clear(struct policy_set *);

/* Returns the policy called name, or NULL. */
const struct policy *policy_set_find(const struct policy_set *,
	    const char *name);

#endif
