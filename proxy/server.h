/*
 * The server: one event loop with its listeners, the client
 * connections they accept, and the signals that stop it.
 */
#ifndef CORSPROXY_SERVER_H
#define CORSPROXY_SERVER_H

#include "config.h"

/*
 * Binds every listener of config, prints the start-up line and serves
 * until SIGTERM or SIGINT, then finishes the requests in flight (up to
 * timeouts.shutdown).  Returns the process exit status.
 */
int	server_run(const struct config *);

#endif
