/*
 * corsproxy: a reverse proxy that adds CORS to the backends behind it.
 *
 * main() reads the command line, loads the configuration (a file, or
 * the development defaults when there is none), reports every error
 * and warning, and either stops there (--check) or starts the server.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "explain.h"
#include "log.h"
#include "server.h"

#define MAIN_MAX_REPEAT	64	/* -l, -u and -o each */

enum main_exit {
	MAIN_EXIT_OK = 0,
	MAIN_EXIT_INVALID = 1,
	MAIN_EXIT_USAGE = 2
};

struct main_options {
	const char		*config_file;
	struct config_overrides	 overrides;
	const char		*listens[MAIN_MAX_REPEAT];
	const char		*upstreams[MAIN_MAX_REPEAT];
	const char		*origins[MAIN_MAX_REPEAT];
	bool			 check;
	int			 verbosity;	/* -1 quiet, 0, 1 verbose */
};

static const char main_usage[] =
"usage: corsproxy [-c FILE] [-p FILE] [-l ADDR:PORT]... [-u URL]...\n"
"                 [-o ORIGIN]... [-w N] [-v|-q]\n"
"       corsproxy --check [-c FILE] [-p FILE]\n"
"       corsproxy explain [-c FILE] [-p FILE] --origin ORIGIN [--method M]\n"
"                 [--header NAME]... [--path PATH] [--host HOST]\n"
"                 [--private-network]\n"
"       corsproxy --version | --help\n";

static const char main_help[] =
"\n"
"A reverse proxy that adds CORS to the HTTP backends behind it.  With no\n"
"arguments it listens on 127.0.0.1:8080, forwards to http://127.0.0.1:3000\n"
"and allows any http://localhost:PORT, http://127.0.0.1:PORT and\n"
"http://[::1]:PORT origin, with credentials, any method, any requested\n"
"header and private-network access.\n"
"\n"
"  -c, --config FILE        proxy configuration (YAML)\n"
"  -p, --policies FILE      policy file; replaces the config's policies\n"
"  -l, --listen ADDR:PORT   listen here instead (repeatable; [::1]:8080)\n"
"  -u, --upstream URL       forward to this server (repeatable)\n"
"  -o, --allow-origin PAT   allow this origin pattern instead of the\n"
"                           development origins (repeatable)\n"
"  -w, --workers N          worker processes (default: one per CPU)\n"
"      --check              validate the configuration and exit:\n"
"                           0 valid, 1 invalid\n"
"  explain ...              show what the proxy would do with a request\n"
"                           from ORIGIN: exit 0 allowed, 1 denied\n"
"  -v, --verbose            log debug messages\n"
"  -q, --quiet              log errors only\n"
"      --version            print the version\n"
"  -h, --help               print this help\n";


static int __attribute__((format(printf, 1, 2)))
main_usage_error(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "corsproxy: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%sTry 'corsproxy --help' for more.\n", main_usage);
	return (MAIN_EXIT_USAGE);
}


static int
main_push(const char **list, size_t *count, const char *value,
    const char *flag)
{
	if (*count >= MAIN_MAX_REPEAT) {
		return (main_usage_error("too many %s options", flag));
	}
	list[(*count)++] = value;
	return (0);
}


static int
main_workers(struct main_options *o, const char *arg)
{
	char	*end;
	long	 n = strtol(arg, &end, 10);

	if (strcmp(arg, "auto") == 0) {
		o->overrides.workers = 0;
		return (0);
	}
	if (*arg == '\0' || *end != '\0' || n < 1 || n > 1024) {
		return (main_usage_error("-w needs a number from 1 to 1024, "
		    "not '%s'", arg));
	}
	o->overrides.workers = (int)n;
	return (0);
}


enum {
	MAIN_OPT_CHECK = 256,
	MAIN_OPT_VERSION
};

static const struct option main_longopts[] = {
	{ "config",		required_argument,	NULL, 'c' },
	{ "policies",		required_argument,	NULL, 'p' },
	{ "listen",		required_argument,	NULL, 'l' },
	{ "upstream",		required_argument,	NULL, 'u' },
	{ "allow-origin",	required_argument,	NULL, 'o' },
	{ "workers",		required_argument,	NULL, 'w' },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "check",		no_argument,		NULL, MAIN_OPT_CHECK },
	{ "version",		no_argument,	NULL, MAIN_OPT_VERSION },
	{ NULL,			0,			NULL, 0 }
};


/* Handles one parsed option.  Returns 0, a usage error (2), or -1 when
 * the program should stop successfully (--help, --version). */
static int
main_option(struct main_options *o, int ch, const char *arg,
    const char *word)
{
	struct config_overrides	*ov = &o->overrides;

	switch (ch) {
	case 'c':
		o->config_file = arg;
		return (0);
	case 'p':
		ov->policies_file = arg;
		return (0);
	case 'l':
		return (main_push(o->listens, &ov->nlistens, arg, "-l"));
	case 'u':
		return (main_push(o->upstreams, &ov->nupstreams, arg, "-u"));
	case 'o':
		return (main_push(o->origins, &ov->norigins, arg, "-o"));
	case 'w':
		return (main_workers(o, arg));
	case 'v':
		o->verbosity = 1;
		return (0);
	case 'q':
		o->verbosity = -1;
		return (0);
	case MAIN_OPT_CHECK:
		o->check = true;
		return (0);
	case 'h':
		printf("%s%s", main_usage, main_help);
		return (-1);
	case MAIN_OPT_VERSION:
		printf("corsproxy %s\n", CORSPROXY_VERSION);
		return (-1);
	case ':':
		return (main_usage_error("option '%s' needs a value", word));
	default:
		return (main_usage_error("unknown option '%s'", word));
	}
}


static int
main_parse(struct main_options *o, int argc, char **argv)
{
	int	 ch, rc;

	o->overrides.listens = o->listens;
	o->overrides.upstreams = o->upstreams;
	o->overrides.origins = o->origins;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:p:l:u:o:w:vqh",
	    main_longopts, NULL)) != -1) {
		/* optind has moved past the word getopt looked at. */
		char		 flag[3] = { '-', (char)optopt, '\0' };
		/* For "-xq" getopt names the letter, not the word. */
		const char	*word = ch == '?' && optopt != 0 ? flag :
				    argv[optind - 1];

		if ((rc = main_option(o, ch, optarg, word)) != 0) {
			return (rc);
		}
	}
	if (optind < argc) {
		return (main_usage_error("unexpected argument '%s'",
		    argv[optind]));
	}
	return (0);
}


/* XXX TLS listeners are read but not served yet; server.c refuses to
 * start with one, and --check says so here. */
static void
main_warn_unsupported(const struct config *c)
{
	size_t	 i;

	for (i = 0; i < c->nlistens; i++) {
		const struct config_listen	*l = &c->listens[i];

		if (l->cert != NULL) {
			fprintf(stderr, "%s:%d:%d: warning: TLS listeners are "
			    "not implemented in this version: corsproxy will "
			    "refuse to start with this listener\n",
			    l->mark.file, l->mark.line, l->mark.column);
		}
	}
}


static enum config_log_level
main_log_level(const struct main_options *o, const struct config *c)
{
	if (o->verbosity > 0) {
		return (CONFIG_LOG_DEBUG);
	}
	if (o->verbosity < 0) {
		return (CONFIG_LOG_ERROR);
	}
	return (c != NULL ? c->log.level : CONFIG_LOG_INFO);
}


int
main(int argc, char **argv)
{
	struct main_options	 o;
	struct diag		 diag;
	struct config		*config;
	char			 summary[512];
	int			 rc;

	/* Every request allocates and frees read buffers of 128 KiB; by
	 * default glibc would mmap and munmap each, or grow and trim the
	 * heap with brk() over and over. */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TOP_PAD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	if (argc > 1 && strcmp(argv[1], "explain") == 0) {
		return (explain_main(argc - 1, argv + 1));
	}
	memset(&o, 0, sizeof(o));
	memset(&diag, 0, sizeof(diag));
	if ((rc = main_parse(&o, argc, argv)) != 0) {
		return (rc == -1 ? MAIN_EXIT_OK : rc);
	}
	config = config_load(o.config_file, &o.overrides, &diag);
	diag_print(&diag, stderr);
	diag_clear(&diag);
	if (config == NULL) {
		fprintf(stderr, "corsproxy: the configuration is not valid\n");
		return (MAIN_EXIT_INVALID);
	}
	main_warn_unsupported(config);
	if (o.check) {
		config_summary(config, summary, sizeof(summary));
		printf("%s\n", summary);
		config_free(config);
		return (MAIN_EXIT_OK);
	}
	if (log_init(main_log_level(&o, config), config->log.access,
	    config->log.format) == -1) {
		fprintf(stderr, "corsproxy: access log %s: %m\n",
		    config->log.access);
		config_free(config);
		return (MAIN_EXIT_INVALID);
	}
	rc = server_run(config);
	config_free(config);
	return (rc);
}
