/*
 * The server: the listeners, the event loop of each worker with the
 * client connections it accepts, and what stops it.
 */
#ifndef CORSPROXY_SERVER_H
#define CORSPROXY_SERVER_H

#include "config.h"

/*
 * Binds every listener of config, prints the start-up line and serves,
 * from this process or from config->workers worker processes, until
 * SIGTERM or SIGINT; then finishes the requests in flight (up to
 * timeouts.shutdown).  Returns the process exit status.
 */
int	server_run(const struct config *);

#endif
