/*
 * The proxy configuration: its structs, its YAML loader and the
 * development defaults used when no file is given.
 *
 * A struct config is built once, checked as a whole and never changed
 * afterwards; a reload builds a new one.  config_free() releases it and
 * everything it owns, policies included.
 */
#ifndef CORSPROXY_CONFIG_H
#define CORSPROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "policy.h"

#define CONFIG_DEFAULT_LISTEN	"127.0.0.1:8080"
#define CONFIG_DEFAULT_UPSTREAM	"http://127.0.0.1:3000"

struct config_listen {
	char			*host;		/* numeric or name; IPv6
						 * without brackets */
	int			 port;
	char			*cert;		/* TLS when both are set */
	char			*key;
	struct diag_mark	 mark;
};

struct config_server {
	char			*url;		/* as written */
	bool			 tls;		/* https:// */
	char			*host;		/* IPv6 without brackets */
	int			 port;		/* explicit or default */
	struct diag_mark	 mark;
};

enum config_host_mode {
	CONFIG_HOST_UPSTREAM,	/* Host: the server's host[:port] */
	CONFIG_HOST_CLIENT,	/* Host: as the client sent it */
	CONFIG_HOST_FIXED	/* Host: host_name */
};

struct config_upstream {
	char			*name;		/* "default": the shorthand */
	struct config_server	*servers;
	size_t			 nservers;
	enum config_host_mode	 host_mode;
	char			*host_name;	/* CONFIG_HOST_FIXED */
	char			*ca_file;	/* NULL: the system store */
	struct diag_mark	 mark;
};

enum config_preflight {
	CONFIG_PREFLIGHT_ANSWER,
	CONFIG_PREFLIGHT_FORWARD
};

struct config_route {
	char			*path;		/* prefix, starts with "/" */
	char			*host;		/* NULL: any host */
	size_t			 upstream;	/* index into upstreams */
	bool			 all_policies;	/* no "policies:" key */
	size_t			*policies;	/* indexes into policies */
	size_t			 npolicies;
	enum config_preflight	 preflight;
	struct diag_mark	 mark;
};

struct config_limits {
	size_t	header_bytes;		/* default 32 KiB */
	size_t	header_count;		/* default 100 */
	size_t	body_bytes;		/* default 10 MiB */
	size_t	connections;		/* default 10000 */
};

/* All in milliseconds. */
struct config_timeouts {
	long	client_header;		/* default 10 s */
	long	client_idle;		/* default 60 s */
	long	upstream_connect;	/* default 5 s */
	long	upstream_read;		/* default 60 s */
	long	shutdown;		/* default 10 s */
};

enum config_log_level {
	CONFIG_LOG_ERROR,
	CONFIG_LOG_WARN,
	CONFIG_LOG_INFO,
	CONFIG_LOG_DEBUG
};

enum config_log_format {
	CONFIG_LOG_TEXT,
	CONFIG_LOG_JSON
};

struct config_log {
	enum config_log_level	 level;		/* default info */
	char			*access;	/* "stderr", "off" or a path */
	enum config_log_format	 format;	/* default text */
};

struct config {
	char			*file;		/* NULL for the defaults */
	struct config_listen	*listens;
	size_t			 nlistens;
	int			 workers;	/* 0: one per CPU */
	struct config_upstream	*upstreams;
	size_t			 nupstreams;
	struct config_route	*routes;	/* always ends with a
						 * catch-all "/" route */
	size_t			 nroutes;
	struct policy_set	 policies;
	struct config_limits	 limits;
	struct config_timeouts	 timeouts;
	struct config_log	 log;
	char			*admin;		/* "host:port" or NULL */
};

/*
 * What the command line may override.  Every field is optional: NULL
 * or zero counts leave the file's value alone.
 */
struct config_overrides {
	const char	*policies_file;		/* -p */
	const char	**listens;		/* -l, repeatable */
	size_t		 nlistens;
	const char	**upstreams;		/* -u, repeatable */
	size_t		 nupstreams;
	const char	**origins;		/* -o, repeatable */
	size_t		 norigins;
	int		 workers;		/* -w; 0: not given */
};

/*
 * Loads file (or, when file is NULL, the development defaults) and
 * applies the overrides.  Returns a config, or NULL when any error was
 * found; every error and warning is appended to diag either way.  The
 * caller frees the result with config_free().
 */
struct config	*config_load(const char *file,
		    const struct config_overrides *, struct diag *);

/* Frees the config and all it owns; config_free(NULL) does nothing. */
void		 config_free(struct config *);

/* Returns the first route whose host (when it names one; any port in
 * host is ignored) and path prefix match the request target; the
 * catch-all route when none does. */
const struct config_route *config_route_match(const struct config *,
		    const char *target, const char *host);

/* Writes the one-line summary that --check and start-up print. */
void		 config_summary(const struct config *, char *buf, size_t len);

#endif
