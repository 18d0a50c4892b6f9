/*
 * Logging: the error log with levels, the access log, and the escaping
 * of every value a client controls before it reaches either.
 *
 * The level is checked before anything is formatted, so debug calls
 * cost a comparison when debug is off.  Both logs go to stderr unless
 * the access log is pointed at a file or switched off.
 */
#ifndef CORSPROXY_LOG_H
#define CORSPROXY_LOG_H

#include <stddef.h>

#include "config.h"

extern enum config_log_level log_level;

/* Sets the level, opens the access log ("stderr", "off" or a path) and
 * routes libevent's own messages here.  Returns 0, or -1 when the
 * access log file cannot be opened (errno set). */
int	log_init(enum config_log_level, const char *access,
	    enum config_log_format);

void	log_write(enum config_log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_write(CONFIG_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	do { if (log_level >= CONFIG_LOG_WARN)	\
	    log_write(CONFIG_LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...)	do { if (log_level >= CONFIG_LOG_INFO)	\
	    log_write(CONFIG_LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...)	do { if (log_level >= CONFIG_LOG_DEBUG)	\
	    log_write(CONFIG_LOG_DEBUG, __VA_ARGS__); } while (0)

/* One finished request, as the access log records it.  Strings may be
 * NULL; they are escaped when written. */
struct log_access {
	const char	*client;
	const char	*method;
	const char	*target;
	int		 status;
	size_t		 bytes;		/* response body bytes sent */
	long		 duration_us;
	const char	*origin;
	const char	*policy;
	const char	*decision;	/* allowed, denied, reported,
					 * no-origin, forwarded */
	const char	*upstream;	/* host:port, or "-" */
};

void	log_access(const struct log_access *);

/*
 * Copies src (len bytes) into dst as printable ASCII: quotes,
 * backslashes, control bytes and bytes above 0x7e become \" \\ \xHH.
 * Always NUL-terminates; truncates with "..." when dst is too small.
 * Returns dst.
 */
char	*log_escape(char *dst, size_t dstlen, const char *src, size_t len);

#endif
