/* Shared by the C baseline echo servers: flags, the listening socket, the
 * ready line. Header-only so each server stays one translation unit. */
#ifndef PERCORE_BENCH_SERVER_COMMON_H
#define PERCORE_BENCH_SERVER_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server_flags {
  const char* host;
  int port;
  int buffer_size;
};

static void server_usage(const char* prog, const char* msg) {
  if (msg) fprintf(stderr, "%s: %s\n", prog, msg);
  fprintf(msg ? stderr : stdout,
          "usage: %s [--host IPV4] [--port PORT] [--buffer-size BYTES]\n"
          "  --host IPV4          address to listen on (default 127.0.0.1)\n"
          "  --port PORT          port, 0 to pick one (default 50002)\n"
          "  --buffer-size BYTES  bytes per connection buffer (default 16384)\n"
          "Prints 'listening on HOST:PORT' when ready. SO_REUSEPORT is set.\n",
          prog);
  exit(msg ? 2 : 0);
}

static long server_int(const char* prog, const char* name, const char* s, long min, long max) {
  char* end;
  if (!s) {
    fprintf(stderr, "%s: %s needs a value\n", prog, name);
    exit(2);
  }
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < min || v > max) {
    fprintf(stderr, "%s: %s must be a whole number from %ld to %ld, got '%s'\n", prog, name, min,
            max, s);
    exit(2);
  }
  return v;
}

static struct server_flags server_parse(const char* prog, int argc, char** argv) {
  struct server_flags f = {"127.0.0.1", 50002, 16384};
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    const char* eq = strchr(a, '=');
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    const char* v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
    int takes = !eq;
    if (nl == 6 && !strncmp(a, "--help", nl))
      server_usage(prog, NULL);
    else if (nl == 6 && !strncmp(a, "--host", nl)) {
      if (!v) server_usage(prog, "--host needs a value");
      f.host = v;
      i += takes;
    } else if (nl == 6 && !strncmp(a, "--port", nl)) {
      f.port = (int)server_int(prog, "--port", v, 0, 65535);
      i += takes;
    } else if (nl == 13 && !strncmp(a, "--buffer-size", nl)) {
      f.buffer_size = (int)server_int(prog, "--buffer-size", v, 1, 64 << 20);
      i += takes;
    } else {
      fprintf(stderr, "%s: unknown argument '%s'\n", prog, a);
      server_usage(prog, "see usage");
    }
  }
  return f;
}

/* Listening TCP socket with SO_REUSEADDR and SO_REUSEPORT; exits on failure. */
static int server_listen(const char* prog, const struct server_flags* f, int nonblocking) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)f->port);
  if (inet_pton(AF_INET, f->host, &sa.sin_addr) != 1) {
    fprintf(stderr, "%s: --host must be an IPv4 address, got '%s'\n", prog, f->host);
    exit(2);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
    exit(1);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) < 0) {
    fprintf(stderr, "%s: bind %s:%d: %s\n", prog, f->host, f->port, strerror(errno));
    exit(1);
  }
  if (listen(fd, 4096) < 0) {
    fprintf(stderr, "%s: listen: %s\n", prog, strerror(errno));
    exit(1);
  }
  return fd;
}

static void server_ready(int fd, const char* host, const char* detail) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr*)&sa, &len);
  printf("listening on %s:%d (%s, pid=%d)\n", host, ntohs(sa.sin_port), detail, (int)getpid());
  fflush(stdout);
}

static void server_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

#endif
