/*
 * Reading and writing a non-blocking socket through evbuffers, for the
 * client and upstream connections alike: large reads into reserved
 * space, with no ioctl asking how much there is first.
 */
#ifndef CORSPROXY_SOCKIO_H
#define CORSPROXY_SOCKIO_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/util.h>

struct evbuffer;
struct event;

/*
 * Reads up to chunk bytes from fd into in.  Returns 0 (data, or none
 * for now), 1 at end of stream, or -1 on an error (errno set).  When
 * the read filled all the space reserved, more may wait, and fd's
 * edge-triggered event would not say so: ev is activated to come back.
 */
int	sockio_read(evutil_socket_t fd, struct evbuffer *in, size_t chunk,
	    struct event *ev);

/* Writes out to fd, max bytes a call, until out is empty or the socket
 * takes no more.  Returns 0, or -1 on an error (errno set). */
int	sockio_write(evutil_socket_t fd, struct evbuffer *out, size_t max);

#endif
