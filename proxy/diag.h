/*
 * Diagnostics: the errors and warnings found while loading configuration.
 *
 * Loading never stops at the first problem.  Every error and warning is
 * appended to a struct diag list with the file, line and column it is
 * about, so `corsproxy --check` can print them all as
 * FILE:LINE:COLUMN: message.
 */
#ifndef CORSPROXY_DIAG_H
#define CORSPROXY_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* A place in a configuration file; lines and columns count from 1. */
struct diag_mark {
	const char	*file;		/* owned by whoever owns the config */
	int		 line;
	int		 column;
};

enum diag_level {
	DIAG_ERROR,
	DIAG_WARNING
};

struct diag_entry {
	enum diag_level	 level;
	char		*file;		/* owned copy */
	int		 line;
	int		 column;
	char		*message;	/* owned copy */
};

struct diag {
	struct diag_entry	*entries;
	size_t			 count;
	size_t			 capacity;
	size_t			 errors;	/* entries at DIAG_ERROR */
};

/* Appends an error or warning at mark; on allocation failure the entry
 * is dropped but the error count still rises, so a load still fails. */
void	diag_error(struct diag *, const struct diag_mark *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	diag_warning(struct diag *, const struct diag_mark *,
	    const char *, ...) __attribute__((format(printf, 3, 4)));

/* Writes a message into errbuf (when not NULL) and returns -1: the
 * error exit of functions that report through an errbuf. */
int	diag_format(char *errbuf, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Prints every entry as "FILE:LINE:COLUMN: error: message". */
void	diag_print(const struct diag *, FILE *);

/* Frees the entries, not the struct itself; safe on a zeroed struct. */
void	diag_clear(struct diag *);

#endif
