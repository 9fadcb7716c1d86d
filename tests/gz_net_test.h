/* Helpers for the suites that need TCP connections (net.c, fdio.c). */
#ifndef GZ_NET_TEST_H
#define GZ_NET_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gz_test.h"

static inline int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A connected pair over HOST: *client from gz_tcp_connect, *server from
 * gz_accept. */
static inline void tcp_pair(const char *host, int *client, int *server)
{
    int l = gz_tcp_listen(host, 0, 8);
    assert_true(l >= 0);
    *client = gz_tcp_connect(host, port_of(l), 5.0);
    assert_true(*client >= 0);
    *server = gz_accept(l, NULL, NULL, 5.0);
    assert_true(*server >= 0);
    close(l);
}

/* FN(FD) spawned and parked (it has run and not ended). */
static inline gz_greenlet *parked_on(gz_fn fn, int fd)
{
    gz_greenlet *g = gz_spawn(fn, GZ_PTR(fd));
    assert_non_null(g);
    assert_int_equal(gz_yield(), 0);
    assert_false(gz_ready(g));
    return g;
}

/* What G returned (an errno), once it has ended; G is released. */
static inline int outcome_of(gz_greenlet *g)
{
    assert_int_equal(gz_join(g, 5.0), 0);
    int v = GZ_INT(gz_value(g));
    gz_release(g);
    return v;
}

#endif
