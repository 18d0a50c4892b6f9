/*
 * The master process: it forks the worker processes that serve, starts
 * a new one in the place of any that dies, and on SIGTERM or SIGINT
 * tells them all to finish and waits for them.
 */
#ifndef CORSPROXY_MASTER_H
#define CORSPROXY_MASTER_H

#include <stddef.h>

/*
 * Runs in each worker, slot 0 to nworkers - 1; returns its exit status.
 * stop_fd becomes readable (end of file) when the worker must stop
 * accepting and finish: when the master was told to stop, or died.
 * Workers ignore SIGTERM, SIGINT and SIGHUP: a signal sent to the
 * whole process group (Ctrl-C, a service manager) reaches them through
 * the master, once.
 */
typedef int	master_worker_fn(size_t slot, int stop_fd, void *arg);

/*
 * Forks nworkers workers running fn and supervises them until they
 * have all exited after a stop signal.  A second signal, or workers
 * still running grace_ms after the first, are killed.  The listening
 * sockets in listen_fds are closed at the first signal, so that new
 * connections are refused instead of waiting in a queue no worker
 * reads.  Returns the process exit status: 0 after a stop, 1 when no
 * worker could start.
 */
int	master_run(size_t nworkers, long grace_ms, master_worker_fn *fn,
	    void *arg, const int *listen_fds, size_t nfds);

#endif
