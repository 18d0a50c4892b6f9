/*
 * idleconns: holds many idle keep-alive connections open to a server
 * and reports what they cost the server in resident memory.
 *
 * It reads the server process's VmRSS, opens N connections one after
 * another, sends one GET on each and reads its whole response (so the
 * server has done a full exchange and is back to waiting on each),
 * waits a moment, and reads VmRSS again.  Then it sends a second GET on
 * every connection to prove the server still holds them all.  One line
 * on stdout, for bench/run to parse:
 *
 *     opened=N ok=N alive=N rss_before_kb=K rss_after_kb=K
 *
 * Built by bench/run with the system's cc; no dependencies.
 */
#define _GNU_SOURCE	/* strcasestr */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define IDLE_BUF	65536


static long
idle_rss_kb(const char *pid)
{
	char	 path[64], line[256];
	long	 kb = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
		}
	}
	fclose(f);
	return (kb);
}


static int
idle_connect(const struct sockaddr_in *sin)
{
	struct timeval	 tv = { 10, 0 };
	int		 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		return (-1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}


/* Reads the rest of a small chunked body: up to the last chunk. */
static int
idle_chunked(int fd, char *buf, size_t used, int status)
{
	ssize_t	 n;

	for (;;) {
		if (used >= 5 && memcmp(buf + used - 5, "0\r\n\r\n", 5) == 0) {
			return (status);
		}
		if (used == IDLE_BUF - 1) {
			return (-1);
		}
		if ((n = read(fd, buf + used, IDLE_BUF - 1 - used)) <= 0) {
			return (-1);
		}
		used += (size_t)n;
	}
}


/* Sends req and reads one whole response: with a Content-Length, a
 * small chunked body, or none (204).  Returns the status code, or -1. */
static int
idle_exchange(int fd, const char *req)
{
	char		 buf[IDLE_BUF];
	size_t		 used = 0, want;
	ssize_t		 n;
	const char	*end, *cl, *te;
	int		 status;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		return (-1);
	}
	for (;;) {
		if (used == sizeof(buf) - 1) {
			return (-1);
		}
		if ((n = read(fd, buf + used, sizeof(buf) - 1 - used)) <= 0) {
			return (-1);
		}
		used += (size_t)n;
		buf[used] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			break;
		}
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		return (-1);
	}
	te = strcasestr(buf, "\r\nTransfer-Encoding: chunked");
	if (te != NULL && te < end) {
		return (idle_chunked(fd, buf, used, status));
	}
	want = (size_t)(end + 4 - buf);
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl != NULL && cl < end) {
		want += strtoul(cl + 17, NULL, 10);
	}
	while (used < want) {
		/* Past the headers only the count matters. */
		if ((n = read(fd, buf, sizeof(buf) - 1)) <= 0) {
			return (-1);
		}
		used += (size_t)n;
	}
	return (status);
}


int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	char			 req[1024];
	int			*fds;
	long			 n, i, opened = 0, ok = 0, alive = 0;
	long			 before, after;

	if (argc != 7) {
		fprintf(stderr, "usage: idleconns PID HOST PORT N PATH "
		    "ORIGIN\n");
		return (2);
	}
	n = strtol(argv[4], NULL, 10);
	if (n < 1 || (fds = calloc((size_t)n, sizeof(*fds))) == NULL) {
		fprintf(stderr, "idleconns: bad count %s\n", argv[4]);
		return (2);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) {
		fprintf(stderr, "idleconns: bad address %s\n", argv[2]);
		return (2);
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
	    "Origin: %s\r\n\r\n", argv[5], argv[2], argv[3], argv[6]);

	before = idle_rss_kb(argv[1]);
	for (i = 0; i < n; i++) {
		if ((fds[i] = idle_connect(&sin)) == -1) {
			fprintf(stderr, "idleconns: connection %ld: %s\n",
			    i, strerror(errno));
			break;
		}
		opened++;
		if (idle_exchange(fds[i], req) / 100 == 2) {
			ok++;
		}
	}
	sleep(1);
	after = idle_rss_kb(argv[1]);

	for (i = 0; i < opened; i++) {
		if (idle_exchange(fds[i], req) / 100 == 2) {
			alive++;
		}
	}
	printf("opened=%ld ok=%ld alive=%ld rss_before_kb=%ld "
	    "rss_after_kb=%ld\n", opened, ok, alive, before, after);
	for (i = 0; i < opened; i++) {
		close(fds[i]);
	}
	free(fds);
	return (0);
}
