/*
 * HTTP tokens and comma-separated token lists (RFC 9110, section 5.6):
 * what methods and header names must be, and how list-valued headers
 * such as Connection and Vary are read.
 */
#ifndef CORSPROXY_TOKEN_H
#define CORSPROXY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when the len bytes at s are a non-empty token. */
bool	token_valid(const char *s, size_t len);

/* Returns true when the comma-separated list names token, compared
 * case-insensitively, around optional spaces and tabs.  A NULL list
 * names nothing. */
bool	token_list_has(const char *list, const char *token);

#endif
