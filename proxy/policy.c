/*
 * CORS policy sets: freeing them and finding a policy by name.
 *
 * The config loader builds a set in place, a policy at a time, so a set
 * may hold policies that are only half filled when loading fails;
 * everything here copes with NULL and zero fields for that reason.
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void
policy_list_clear(struct policy_list *list)
{
	size_t	i;

	for (i = 0; i < list->count; i++) {
		free(list->items[i]);
	}
	free(list->items);
	free(list->joined);
	memset(list, 0, sizeof(*list));
}

static void
policy_clear(struct policy *policy)
{
	size_t	i;

	for (i = 0; i < policy->norigins; i++) {
		origin_pattern_clear(&policy->origins[i]);
	}
	free(policy->origins);
	free(policy->name);
	policy_list_clear(&policy->allow_methods);
	policy_list_clear(&policy->allow_headers);
	policy_list_clear(&policy->expose_headers);
	memset(policy, 0, sizeof(*policy));
}

void
policy_set_clear(struct policy_set *set)
{
	size_t	i;

	for (i = 0; i < set->count; i++) {
		policy_clear(&set->policies[i]);
	}
	free(set->policies);
	free(set->file);
	memset(set, 0, sizeof(*set));
}

const struct policy *
policy_set_find(const struct policy_set *set, const char *name)
{
	size_t	i;

	for (i = 0; i < set->count; i++) {
		if (set->policies[i].name != NULL &&
		    strcmp(set->policies[i].name, name) == 0) {
			return &set->policies[i];
		}
	}
	return NULL;
}
