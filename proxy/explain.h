/*
 * `corsproxy explain`: what the proxy would do with a request from a
 * given origin, without starting anything.
 */
#ifndef CORSPROXY_EXPLAIN_H
#define CORSPROXY_EXPLAIN_H

/* Runs the subcommand on argv (argv[0] is "explain").  Returns the exit
 * status: 0 allowed (in report mode: not denied, as nothing is), 1
 * denied or invalid configuration, 2 usage. */
int	explain_main(int argc, char **argv);

#endif
