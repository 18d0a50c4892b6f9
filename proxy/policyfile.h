/*
 * Policies from YAML: a policy file, or the same block written inline
 * in the proxy configuration, into a struct policy_set.
 *
 * Every mistake is appended to diag at its FILE:LINE:COLUMN and the
 * reading goes on; the caller decides from diag whether the set can
 * be used.  Whatever is read is appended to the set, which owns it and
 * frees it with policy_set_clear().
 */
#ifndef CORSPROXY_POLICYFILE_H
#define CORSPROXY_POLICYFILE_H

#include <stddef.h>

#include "diag.h"
#include "policy.h"
#include "yamltree.h"

/* Reads a "mode" and "policies" mapping, or a bare list of policies,
 * into set.  The marks copied into set point into the tree's file, so
 * that string must live as long as the set. */
void	policyfile_read(struct policy_set *, const struct yamltree_node *,
	    struct diag *);

/* Replaces the set with the policies of the file at path; the set takes
 * path over as set->file.  from is where the file was named, or NULL
 * for the command line. */
void	policyfile_load(struct policy_set *, char *path,
	    const struct diag_mark *from, struct diag *);

/* Appends a development policy called name: any method and header,
 * credentials and private-network access for the n origins.  A bad
 * origin is reported at mark, which names the flag or the defaults. */
void	policyfile_add_dev(struct policy_set *, const char *name,
	    const char *const *origins, size_t n, const struct diag_mark *,
	    struct diag *);

#endif
