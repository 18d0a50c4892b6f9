/*
 * HTTP tokens and token lists.
 */
#include <string.h>
#include <strings.h>

#include "token.h"


static bool
token_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9')) {
		return (true);
	}
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


bool
token_valid(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (!token_is_tchar((unsigned char)s[i])) {
			return (false);
		}
	}
	return (len > 0);
}


bool
token_list_has(const char *list, const char *token)
{
	size_t	 n = strlen(token);

	while (list != NULL && *list != '\0') {
		size_t	 len;

		list += strspn(list, " \t,");
		len = strcspn(list, ",");
		while (len > 0 && (list[len - 1] == ' ' ||
		    list[len - 1] == '\t')) {
			len--;
		}
		if (len == n && strncasecmp(list, token, n) == 0) {
			return (true);
		}
		list += strcspn(list, ",");
	}
	return (false);
}
