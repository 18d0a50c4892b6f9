/*
 * Socket reads and writes.
 */
#include <sys/uio.h>
#include <errno.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "sockio.h"


int
sockio_read(evutil_socket_t fd, struct evbuffer *in, size_t chunk,
    struct event *ev)
{
	struct evbuffer_iovec	 vec[2];
	struct iovec		 iov[2];
	ssize_t			 got;
	size_t			 left, room = 0;
	int			 i, n;

	if ((n = evbuffer_reserve_space(in, (ev_ssize_t)chunk, vec, 2)) <= 0) {
		return (-1);
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
		room += vec[i].iov_len;
	}
	while ((got = readv(fd, iov, n)) == -1 && errno == EINTR) {
		continue;
	}
	if (got <= 0) {
		evbuffer_commit_space(in, vec, 0);
		return (got == 0 ? 1 : (errno == EAGAIN ||
		    errno == EWOULDBLOCK) ? 0 : -1);
	}
	for (i = 0, left = (size_t)got; i < n && left > 0; i++) {
		vec[i].iov_len = left < vec[i].iov_len ? left :
		    vec[i].iov_len;
		left -= vec[i].iov_len;
	}
	evbuffer_commit_space(in, vec, i);
	if ((size_t)got == room) {
		event_active(ev, EV_READ, 1);
	}
	return (0);
}


int
sockio_write(evutil_socket_t fd, struct evbuffer *out, size_t max)
{
	while (evbuffer_get_length(out) > 0) {
		if (evbuffer_write_atmost(out, fd, (ev_ssize_t)max) < 0) {
			return (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR ? 0 : -1);
		}
	}
	return (0);
}
