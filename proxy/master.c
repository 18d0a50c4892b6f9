/*
 * The master process.
 *
 * The master binds nothing and serves nothing itself: server.c has
 * bound the listeners before master_run() forks, so every worker
 * accepts from the same sockets and the kernel hands each connection
 * to one of them.  The master only waits for signals, with all of them
 * blocked and taken one at a time by sigtimedwait(), so there is no
 * handler and no event loop to get wrong.
 *
 * Workers are told to stop through a pipe rather than a signal: the
 * master holds its only write end, so closing it reaches every worker
 * at once, and a master killed outright stops its workers the same
 * way.  A worker that dies is replaced in its slot; one that dies
 * within a second of starting is replaced a second later, so a worker
 * that cannot start does not spin the machine.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

#define MASTER_RESPAWN_MS	1000

struct master_worker {
	pid_t		 pid;		/* 0: not running */
	long		 started_ms;
	long		 respawn_ms;	/* 0: none pending */
};

struct master {
	struct master_worker	*workers;
	size_t			 nworkers;
	size_t			 running;
	master_worker_fn	*fn;
	void			*arg;
	const int		*listen_fds;
	size_t			 nfds;
	sigset_t		 signals;
	int			 stop_pipe[2];
	bool			 stopping;
	long			 deadline_ms;
};


static long
master_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}


/* In the child: undo what only the master wants, then serve. */
static void
master_child(struct master *m, size_t slot)
{
	int	 status;

	close(m->stop_pipe[1]);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &m->signals, NULL);
	status = m->fn(slot, m->stop_pipe[0], m->arg);
	exit(status);
}


static int
master_spawn(struct master *m, size_t slot)
{
	struct master_worker	*w = &m->workers[slot];
	pid_t			 pid;

	w->respawn_ms = 0;
	if ((pid = fork()) == -1) {
		log_error("worker %zu: fork: %s", slot, strerror(errno));
		w->respawn_ms = master_now_ms() + MASTER_RESPAWN_MS;
		return (-1);
	}
	if (pid == 0) {
		master_child(m, slot);
	}
	w->pid = pid;
	w->started_ms = master_now_ms();
	m->running++;
	log_debug("worker %zu: started, pid %d", slot, (int)pid);
	return (0);
}


static void
master_describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status)) {
		snprintf(buf, len, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	}
}


/* A worker has ended: during a stop that is expected; otherwise it is
 * replaced, at once or after a pause when it died young. */
static void
master_reaped(struct master *m, size_t slot, int status)
{
	struct master_worker	*w = &m->workers[slot];
	long			 now = master_now_ms();
	char			 how[128];

	master_describe(status, how, sizeof(how));
	w->pid = 0;
	m->running--;
	if (m->stopping) {
		log_debug("worker %zu %s", slot, how);
		return;
	}
	if (now - w->started_ms < MASTER_RESPAWN_MS) {
		log_error("worker %zu %s right after starting; starting "
		    "another in 1 s", slot, how);
		w->respawn_ms = now + MASTER_RESPAWN_MS;
		return;
	}
	log_warn("worker %zu %s; starting another", slot, how);
	master_spawn(m, slot);
}


static void
master_reap(struct master *m)
{
	pid_t	 pid;
	int	 status;
	size_t	 i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->nworkers; i++) {
			if (m->workers[i].pid == pid) {
				master_reaped(m, i, status);
				break;
			}
		}
	}
}


static void
master_kill_all(struct master *m, int sig)
{
	size_t	 i;

	for (i = 0; i < m->nworkers; i++) {
		if (m->workers[i].pid != 0) {
			kill(m->workers[i].pid, sig);
		}
	}
}


/* The first signal closes the pipe, and the workers finish what they
 * are doing; a second one kills them. */
static void
master_stop(struct master *m, int sig, long grace_ms)
{
	size_t	 i;

	if (m->stopping) {
		log_warn("%s again: killing %zu workers now", strsignal(sig),
		    m->running);
		master_kill_all(m, SIGKILL);
		return;
	}
	log_info("%s: telling %zu workers to finish", strsignal(sig),
	    m->running);
	m->stopping = true;
	m->deadline_ms = master_now_ms() + grace_ms;
	close(m->stop_pipe[1]);
	m->stop_pipe[1] = -1;
	for (i = 0; i < m->nfds; i++) {
		close(m->listen_fds[i]);
	}
}


/* Starts the replacements that are due; returns how long to wait for
 * the next signal, in ms. */
static long
master_tick(struct master *m)
{
	long	 now = master_now_ms(), wait = 1000;
	size_t	 i;

	if (m->stopping) {
		if (now >= m->deadline_ms) {
			log_warn("shutdown: killing %zu workers still "
			    "running", m->running);
			master_kill_all(m, SIGKILL);
			m->deadline_ms = now + 1000;
		}
		return (m->deadline_ms - now);
	}
	for (i = 0; i < m->nworkers; i++) {
		long	 due = m->workers[i].respawn_ms;

		if (due != 0 && due <= now) {
			master_spawn(m, i);
		} else if (due != 0 && due - now < wait) {
			wait = due - now;
		}
	}
	return (wait);
}


static void
master_loop(struct master *m, long grace_ms)
{
	struct timespec	 ts;
	long		 wait;
	int		 sig;

	while (!(m->stopping && m->running == 0)) {
		wait = master_tick(m);
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		if ((sig = sigtimedwait(&m->signals, NULL, &ts)) == -1) {
			continue;	/* EAGAIN (the wait ended) or EINTR */
		}
		if (sig == SIGCHLD) {
			master_reap(m);
		} else if (sig == SIGHUP) {
			log_warn("SIGHUP: reloading is not supported in this "
			    "version; the configuration stays as it is");
		} else {
			master_stop(m, sig, grace_ms);
		}
	}
}


int
master_run(size_t nworkers, long grace_ms, master_worker_fn *fn, void *arg,
    const int *listen_fds, size_t nfds)
{
	struct master	 m;
	size_t		 i;

	memset(&m, 0, sizeof(m));
	m.nworkers = nworkers;
	m.fn = fn;
	m.arg = arg;
	m.listen_fds = listen_fds;
	m.nfds = nfds;
	if ((m.workers = calloc(nworkers, sizeof(*m.workers))) == NULL ||
	    pipe(m.stop_pipe) == -1) {
		log_error("master: %s", strerror(errno));
		free(m.workers);
		return (1);
	}
	sigemptyset(&m.signals);
	sigaddset(&m.signals, SIGCHLD);
	sigaddset(&m.signals, SIGTERM);
	sigaddset(&m.signals, SIGINT);
	sigaddset(&m.signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &m.signals, NULL);
	for (i = 0; i < nworkers; i++) {
		master_spawn(&m, i);
	}
	if (m.running == 0) {
		log_error("master: no worker could be started");
	} else {
		master_loop(&m, grace_ms);
		log_info("all workers finished; exiting");
	}
	close(m.stop_pipe[0]);
	if (m.stop_pipe[1] != -1) {
		close(m.stop_pipe[1]);
	}
	free(m.workers);
	return (m.running == 0 && m.stopping ? 0 : 1);
}
