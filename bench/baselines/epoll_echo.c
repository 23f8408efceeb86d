/* epoll_echo: minimal single-threaded epoll TCP echo server, a "C floor" for
 * percore's benchmarks. Level triggered, one buffer per connection; a read is
 * echoed in full before the connection is read again. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/epoll.h>

#include "server_common.h"

struct conn {
  int fd;
  int len, off; /* bytes in buf still to write: buf[off..len) */
  unsigned char buf[];
};

static const char* PROG = "epoll_echo";

static void conn_close(int ep, struct conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

static void set_interest(int ep, struct conn* c, uint32_t events) {
  struct epoll_event e = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write what is pending; 1 when all written, 0 when the socket is full, -1 on error. */
static int conn_flush(struct conn* c) {
  while (c->off < c->len) {
    ssize_t w = send(c->fd, c->buf + c->off, (size_t)(c->len - c->off), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    c->off += (int)w;
  }
  c->off = c->len = 0;
  return 1;
}

int main(int argc, char** argv) {
  struct server_flags f = server_parse(PROG, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  int lfd = server_listen(PROG, &f, 1);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    perror("epoll_echo: epoll_create1");
    return 1;
  }
  struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
  server_ready(lfd, f.host, "epoll");

  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_echo: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      if (!c) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
              fprintf(stderr, "epoll_echo: accept: %s\n", strerror(errno));
            break;
          }
          server_nodelay(fd);
          struct conn* nc = malloc(sizeof *nc + (size_t)f.buffer_size);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          nc->len = nc->off = 0;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      if (c->len) { /* waiting for EPOLLOUT */
        int r = conn_flush(c);
        if (r < 0)
          conn_close(ep, c);
        else if (r > 0)
          set_interest(ep, c, EPOLLIN);
        continue;
      }
      ssize_t r = recv(c->fd, c->buf, (size_t)f.buffer_size, 0);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        conn_close(ep, c);
        continue;
      }
      c->len = (int)r;
      c->off = 0;
      int w = conn_flush(c);
      if (w < 0)
        conn_close(ep, c);
      else if (w == 0)
        set_interest(ep, c, EPOLLOUT);
    }
  }
}
