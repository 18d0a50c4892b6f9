/*
 * Diagnostics: a growing list of errors and warnings, each with the
 * file, line and column it is about.
 *
 * The list owns copies of the file name and the message, so a mark may
 * point into a tree or a config that is freed before the list is
 * printed.  Running out of memory here must never make a broken config
 * look valid, so an error that cannot be stored is still counted.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static int
diag_grow(struct diag *diag)
{
	struct diag_entry	*entries;
	size_t			 capacity;

	if (diag->count < diag->capacity) {
		return 0;
	}
	capacity = diag->capacity == 0 ? 8 : diag->capacity * 2;
	entries = reallocarray(diag->entries, capacity, sizeof(*entries));
	if (entries == NULL) {
		return -1;
	}
	diag->entries = entries;
	diag->capacity = capacity;
	return 0;
}

static void
diag_add(struct diag *diag, enum diag_level level,
    const struct diag_mark *mark, const char *fmt, va_list ap)
{
	struct diag_entry	*entry;
	char			*message = NULL;
	char			*file = NULL;

	if (level == DIAG_ERROR) {
		diag->errors++;
	}
	if (vasprintf(&message, fmt, ap) == -1) {
		message = NULL;
		goto fail;
	}
	file = strdup(mark != NULL && mark->file != NULL ? mark->file : "");
	if (file == NULL || diag_grow(diag) == -1) {
		goto fail;
	}

	entry = &diag->entries[diag->count++];
	entry->level = level;
	entry->file = file;
	entry->line = mark != NULL ? mark->line : 0;
	entry->column = mark != NULL ? mark->column : 0;
	entry->message = message;
	return;

fail:
	free(file);
	free(message);
}

void
diag_error(struct diag *diag, const struct diag_mark *mark,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diag_add(diag, DIAG_ERROR, mark, fmt, ap);
	va_end(ap);
}

void
diag_warning(struct diag *diag, const struct diag_mark *mark,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diag_add(diag, DIAG_WARNING, mark, fmt, ap);
	va_end(ap);
}

/*
 * Line 0 means the entry is about the file as a whole, or about a
 * command-line flag standing in for a file ("-o"), so only the name is
 * printed.
 */
void
diag_print(const struct diag *diag, FILE *fp)
{
	const struct diag_entry	*e;
	const char		*level;
	size_t			 i;

	for (i = 0; i < diag->count; i++) {
		e = &diag->entries[i];
		level = e->level == DIAG_ERROR ? "error" : "warning";
		if (e->line > 0) {
			fprintf(fp, "%s:%d:%d: %s: %s\n", e->file, e->line,
			    e->column, level, e->message);
		} else {
			fprintf(fp, "%s: %s: %s\n", e->file, level,
			    e->message);
		}
	}
}

void
diag_clear(struct diag *diag)
{
	size_t	i;

	for (i = 0; i < diag->count; i++) {
		free(diag->entries[i].file);
		free(diag->entries[i].message);
	}
	free(diag->entries);
	diag->entries = NULL;
	diag->count = 0;
	diag->capacity = 0;
	diag->errors = 0;
}


int
diag_format(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}
