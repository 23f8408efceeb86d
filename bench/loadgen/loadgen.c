/*
 * loadgen: closed-loop TCP echo load generator for percore's benchmarks.
 *
 * One thread, no allocation per message. Two engines for steady mode:
 *  - uring (default): one io_uring_enter per batch; each connection has one
 *    multishot recv into a shared ring of provided buffers, and each message
 *    is one SEND whose successful completion is not even posted (depth 1).
 *    The client then costs clearly less CPU per round trip than a C server,
 *    so it is not what saturates first (see bench/README.md for figures).
 *  - epoll: level-triggered epoll, recv and send per message: the original
 *    engine, kept for comparison and where io_uring is unavailable.
 * Churn and hold modes always use epoll (edge triggered for churn).
 *
 * Steady mode: --connections N sockets, each keeps --depth K messages of
 * --size bytes in flight; a new message is sent as soon as one has been
 * echoed in full. Churn mode (--churn): N slots, each repeatedly connects,
 * sends one message, waits for the full echo, closes. Hold mode (--hold):
 * N connections each echo one message (proof they are live), then stay
 * open and idle for --duration seconds, so a runner can read the server's
 * memory per idle connection.
 *
 * Every echoed byte is checked against what was sent: each connection sends
 * a deterministic byte stream (a window into one shared pseudo-random table,
 * starting at an offset chosen from the connection's serial number).
 *
 * Exit codes: 0 ok, 1 echoed data did not match, 2 usage, 3 connection or
 * run error (refused, reset, closed early, no round trips).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/uring.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define EXIT_MISMATCH 1
#define EXIT_USAGE 2
#define EXIT_CONN 3

/* ---------- options ---------- */

struct options {
  const char* host;
  int port;
  int connections;
  int size;
  int depth;
  double warmup;
  double duration;
  int churn;
  int json;
  int markers;
  int churn_sources;
  int hold;
  int uring; /* steady mode engine: 1 io_uring, 0 epoll */
};

static struct options opt = {
    .host = "127.0.0.1",
    .port = 0,
    .connections = 16,
    .size = 64,
    .depth = 1,
    .warmup = 1.0,
    .duration = 3.0,
    .churn = 0,
    .json = 0,
    .markers = 0,
    .churn_sources = 16,
    .hold = 0,
    .uring = 1,
};

static const char USAGE[] =
    "usage: loadgen --port PORT [options]\n"
    "  --host HOST          loopback address of the echo server (default 127.0.0.1)\n"
    "  --port PORT          server port (required)\n"
    "  --connections N      concurrent connections (churn: concurrent slots) (default 16)\n"
    "  --size BYTES         message size (default 64)\n"
    "  --depth K            messages in flight per connection (default 1; steady mode only)\n"
    "  --warmup SEC         warm-up before measuring (default 1)\n"
    "  --duration SEC       measured window (default 3)\n"
    "  --churn              connect, one echo of --size bytes, close, repeat\n"
    "  --hold               each connection echoes one message, then all stay idle for\n"
    "                       --duration seconds (no warm-up); prints 'loadgen: holding'\n"
    "  --engine NAME        steady mode: uring (default; falls back to epoll if io_uring\n"
    "                       is unavailable) or epoll\n"
    "  --json               print one JSON object instead of text\n"
    "  --markers            print 'loadgen: measure start' / 'loadgen: measure end' on stderr\n"
    "  --churn-sources N    churn: rotate over N source addresses 127.0.0.x (default 16)\n"
    "exit: 0 ok, 1 echoed bytes mismatched, 2 usage, 3 connection/run error\n";

static void usage_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n", stderr);
  fputs(USAGE, stderr);
  exit(EXIT_USAGE);
}

static long parse_int(const char* name, const char* s, long min, long max) {
  if (!s) usage_error("%s needs a value", name);
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s) usage_error("%s needs a whole number, got '%s'", name, s);
  if (v < min || v > max) usage_error("%s must be between %ld and %ld, got %ld", name, min, max, v);
  return v;
}

static double parse_sec(const char* name, const char* s, double min, double max) {
  if (!s) usage_error("%s needs a value", name);
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || end == s) usage_error("%s needs a number of seconds, got '%s'", name, s);
  if (!(v >= min && v <= max))
    usage_error("%s must be between %g and %g, got %g", name, min, max, v);
  return v;
}

static void parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    const char* eq = strchr(a, '=');
    char name[64];
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    if (nl >= sizeof name) usage_error("unknown argument '%s'", a);
    memcpy(name, a, nl);
    name[nl] = 0;
#define VALUE() (eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL))
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
      fputs(USAGE, stdout);
      exit(0);
    } else if (!strcmp(name, "--host")) {
      opt.host = VALUE();
      if (!opt.host) usage_error("--host needs a value");
    } else if (!strcmp(name, "--port"))
      opt.port = (int)parse_int(name, VALUE(), 1, 65535);
    else if (!strcmp(name, "--connections"))
      opt.connections = (int)parse_int(name, VALUE(), 1, 60000);
    else if (!strcmp(name, "--size"))
      opt.size = (int)parse_int(name, VALUE(), 1, 16 << 20);
    else if (!strcmp(name, "--depth"))
      opt.depth = (int)parse_int(name, VALUE(), 1, 4096);
    else if (!strcmp(name, "--warmup"))
      opt.warmup = parse_sec(name, VALUE(), 0, 3600);
    else if (!strcmp(name, "--duration"))
      opt.duration = parse_sec(name, VALUE(), 0.01, 3600);
    else if (!strcmp(name, "--churn"))
      opt.churn = 1;
    else if (!strcmp(name, "--json"))
      opt.json = 1;
    else if (!strcmp(name, "--markers"))
      opt.markers = 1;
    else if (!strcmp(name, "--hold"))
      opt.hold = 1;
    else if (!strcmp(name, "--engine")) {
      const char* v = VALUE();
      if (v && !strcmp(v, "uring"))
        opt.uring = 1;
      else if (v && !strcmp(v, "epoll"))
        opt.uring = 0;
      else
        usage_error("--engine must be uring or epoll, got '%s'", v ? v : "");
    } else if (!strcmp(name, "--churn-sources"))
      opt.churn_sources = (int)parse_int(name, VALUE(), 1, 254);
    else
      usage_error("unknown argument '%s'", a);
#undef VALUE
  }
  if (!opt.port) usage_error("--port is required");
  if (opt.churn && opt.hold) usage_error("--churn and --hold are separate modes");
  if (opt.hold && opt.depth != 1)
    usage_error("--depth applies to steady mode only (hold sends one message per connection)");
  if (opt.churn && opt.depth != 1)
    usage_error("--depth applies to steady mode only (churn sends one message per connection)");
}

/* ---------- time ---------- */

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* ---------- latency histogram (log-linear, fixed buckets) ----------
 * Values in ns. Below 2^SUB_BITS: one bucket per value. Above: each power of
 * two [2^e, 2^(e+1)) is split into 2^SUB_BITS equal buckets, so a bucket is at
 * most 1/64 (1.6%) of its value wide. Values >= 2^MAX_EXP ns (~18 min) clamp. */
#define SUB_BITS 6
#define SUB_COUNT (1u << SUB_BITS)
#define MAX_EXP 40
#define HIST_BUCKETS ((MAX_EXP - SUB_BITS + 1) * SUB_COUNT)

static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_count, hist_max;

static inline unsigned hist_index(uint64_t v) {
  if (v < SUB_COUNT) return (unsigned)v;
  if (v >= (1ull << MAX_EXP)) v = (1ull << MAX_EXP) - 1;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= SUB_BITS */
  unsigned shift = e - SUB_BITS;
  return (shift + 1) * SUB_COUNT + (unsigned)((v >> shift) - SUB_COUNT);
}

/* Highest value that falls into bucket i. */
static uint64_t hist_upper(unsigned i) {
  if (i < SUB_COUNT) return i;
  unsigned shift = i / SUB_COUNT - 1;
  uint64_t sub = i % SUB_COUNT + SUB_COUNT;
  return ((sub + 1) << shift) - 1;
}

static inline void hist_record(uint64_t v) {
  hist[hist_index(v)]++;
  hist_count++;
  if (v > hist_max) hist_max = v;
}

static void hist_reset(void) {
  memset(hist, 0, sizeof hist);
  hist_count = 0;
  hist_max = 0;
}

/* Value at quantile q: the upper edge of the bucket holding the ceil(q*n)-th value. */
static uint64_t hist_quantile(double q) {
  if (!hist_count) return 0;
  uint64_t rank = (uint64_t)(q * (double)hist_count + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > hist_count) rank = hist_count;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) {
      uint64_t u = hist_upper(i);
      return u < hist_max ? u : hist_max;
    }
  }
  return hist_max;
}

/* ---------- the byte pattern ----------
 * A table of PATTERN_LEN pseudo-random bytes followed by a copy of its first
 * PATTERN_TAIL bytes, so that PATTERN_TAIL bytes from any offset < PATTERN_LEN
 * are contiguous. PATTERN_LEN is prime so message boundaries drift. */
#define PATTERN_LEN 1048573u
#define PATTERN_TAIL 65536u
static uint8_t pattern[PATTERN_LEN + PATTERN_TAIL];

static void pattern_init(void) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i < PATTERN_LEN; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17; /* xorshift64 */
    pattern[i] = (uint8_t)(x >> 24);
  }
  memcpy(pattern + PATTERN_LEN, pattern, PATTERN_TAIL);
}

static inline uint32_t stream_start(uint64_t serial) {
  return (uint32_t)((serial * 7919u + 12345u) % PATTERN_LEN);
}

/* ---------- connections ---------- */

enum { ST_CONNECTING = 1, ST_ACTIVE = 2, ST_CLOSED = 3 };

struct conn {
  int fd;
  int state;
  int want_write;     /* steady, epoll: EPOLLOUT registered; uring: a tracked SEND in flight */
  uint32_t start;     /* offset of this connection's stream in the pattern */
  uint64_t sent;      /* bytes written to the socket (uring: handed to a SEND) */
  uint64_t send_base; /* uring: `sent` before the SEND in flight */
  uint64_t queued;    /* bytes the closed loop wants written (sent <= queued) */
  uint64_t received;  /* bytes echoed and verified */
  uint64_t msgs_done; /* messages echoed in full */
  uint64_t t_connect; /* churn: when connect() was called */
  uint64_t* send_ts;  /* steady: ring of depth send times */
};

static struct conn* conns;
static uint64_t* send_ts_all;
static int epfd;
static uint8_t recvbuf[256 * 1024];

/* measurement */
static int measuring, stopping;
static uint64_t m_roundtrips, m_errors_mismatch_bytes, mismatch_events;
static uint64_t churn_serial;
static uint64_t warm_roundtrips;

/* Errors: a connection error stops the run (exit 3); mismatches are counted
 * and the run goes on so the count is complete (exit 1). */
static char conn_error[256], mismatch_error[256];
static int conn_failed;
static volatile sig_atomic_t interrupted; /* SIGINT or SIGTERM */

static void fail_conn(int code, const char* fmt, ...) {
  char* dst = code == EXIT_MISMATCH ? mismatch_error : conn_error;
  if (!dst[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, 256, fmt, ap);
    va_end(ap);
  }
  if (code != EXIT_MISMATCH) conn_failed = 1;
}

static struct sockaddr_storage server_addr;
static socklen_t server_addrlen;
static int server_is_v4;
static char server_text[INET6_ADDRSTRLEN + 8];

static void resolve_host(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  char port[16];
  snprintf(port, sizeof port, "%d", opt.port);
  int rc = getaddrinfo(opt.host, port, &hints, &res);
  if (rc) usage_error("cannot resolve --host '%s': %s", opt.host, gai_strerror(rc));
  struct addrinfo* pick = NULL;
  for (struct addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      struct sockaddr_in* sin = (struct sockaddr_in*)ai->ai_addr;
      if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) {
        pick = ai;
        break;
      }
    } else if (ai->ai_family == AF_INET6) {
      struct sockaddr_in6* sin6 = (struct sockaddr_in6*)ai->ai_addr;
      if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) && !pick) pick = ai;
    }
  }
  if (!pick)
    usage_error("--host '%s' is not a loopback address: loadgen only targets 127.0.0.0/8 or ::1",
                opt.host);
  memcpy(&server_addr, pick->ai_addr, pick->ai_addrlen);
  server_addrlen = pick->ai_addrlen;
  server_is_v4 = pick->ai_family == AF_INET;
  char ip[INET6_ADDRSTRLEN];
  if (server_is_v4)
    inet_ntop(AF_INET, &((struct sockaddr_in*)pick->ai_addr)->sin_addr, ip, sizeof ip);
  else
    inet_ntop(AF_INET6, &((struct sockaddr_in6*)pick->ai_addr)->sin6_addr, ip, sizeof ip);
  snprintf(server_text, sizeof server_text, server_is_v4 ? "%s:%d" : "[%s]:%d", ip, opt.port);
  freeaddrinfo(res);
}

static int new_socket(uint64_t serial) {
  int fd = socket(server_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.churn && server_is_v4 && opt.churn_sources > 1) {
    /* Spread churn over several source addresses so TIME_WAIT does not exhaust
     * the ephemeral ports of one (source, destination) pair. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(serial % (uint64_t)opt.churn_sources));
    if (bind(fd, (struct sockaddr*)&src, sizeof src) < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
  }
  if (connect(fd, (struct sockaddr*)&server_addr, server_addrlen) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* Compare received bytes with the stream; returns number of mismatching bytes. */
static uint64_t verify(struct conn* c, const uint8_t* data, size_t n) {
  uint64_t bad = 0;
  uint64_t pos = c->received;
  while (n) {
    uint32_t off = (uint32_t)((c->start + pos) % PATTERN_LEN);
    size_t chunk = PATTERN_LEN + PATTERN_TAIL - off;
    if (chunk > n) chunk = n;
    if (memcmp(data, pattern + off, chunk) != 0) {
      for (size_t i = 0; i < chunk; i++) bad += data[i] != pattern[off + i];
    }
    data += chunk;
    n -= chunk;
    pos += chunk;
  }
  return bad;
}

static void set_events(struct conn* c, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write queued bytes; returns 0, or -errno on a hard error. */
static int flush(struct conn* c) {
  while (c->sent < c->queued) {
    uint32_t off = (uint32_t)((c->start + c->sent) % PATTERN_LEN);
    uint64_t len = c->queued - c->sent;
    uint64_t room = PATTERN_LEN + PATTERN_TAIL - off;
    if (len > room) len = room;
    ssize_t w = send(c->fd, pattern + off, len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!opt.churn && !c->want_write) {
          c->want_write = 1;
          set_events(c, EPOLLIN | EPOLLOUT);
        }
        return 0;
      }
      return -errno;
    }
    c->sent += (uint64_t)w;
  }
  if (!opt.churn && c->want_write) {
    c->want_write = 0;
    set_events(c, EPOLLIN);
  }
  return 0;
}

static void close_conn(struct conn* c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = ST_CLOSED;
}

/* ---------- steady mode: the data path both engines share ---------- */

/* The engine's way of handing bytes [sent, queued) to the kernel. */
static void (*steady_send)(struct conn* c);

static void epoll_send(struct conn* c) {
  if (c->want_write) return; /* EPOLLOUT will flush */
  int e = flush(c);
  if (e) {
    fail_conn(EXIT_CONN, "send on connection %ld: %s", (long)(c - conns), strerror(-e));
    close_conn(c);
  }
}

/* r echoed bytes arrived on c: verify them, time and count every message
 * now complete, and queue the next message for each (closed loop). */
static void steady_on_data(struct conn* c, const uint8_t* data, size_t r, uint64_t now) {
  if (c->received + (uint64_t)r > c->sent) {
    fail_conn(EXIT_MISMATCH, "connection %ld received %" PRIu64 " bytes more than it sent",
              (long)(c - conns), c->received + (uint64_t)r - c->sent);
    mismatch_events++;
  }
  uint64_t bad = verify(c, data, r);
  if (bad) {
    fail_conn(EXIT_MISMATCH,
              "connection %ld: %" PRIu64
              " echoed bytes differ from what was sent (stream offset %" PRIu64 ")",
              (long)(c - conns), bad, c->received);
    mismatch_events++;
    m_errors_mismatch_bytes += bad;
  }
  c->received += (uint64_t)r;
  const uint64_t size = (uint64_t)opt.size;
  const unsigned depth = (unsigned)opt.depth;
  while (c->received >= (c->msgs_done + 1) * size) {
    uint64_t t0 = c->send_ts[c->msgs_done % depth];
    c->msgs_done++;
    if (measuring) {
      hist_record(now - t0);
      m_roundtrips++;
    } else {
      warm_roundtrips++;
    }
    if (!stopping) {
      uint64_t msg = c->queued / size; /* index of the next message */
      c->send_ts[msg % depth] = now;
      c->queued += size;
    }
  }
  if (c->sent < c->queued) steady_send(c);
}

static void steady_on_read(struct conn* c, uint64_t now) {
  ssize_t r = recv(c->fd, recvbuf, sizeof recvbuf, 0);
  if (r < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    fail_conn(EXIT_CONN, "recv on connection %ld: %s", (long)(c - conns), strerror(errno));
    close_conn(c);
    return;
  }
  if (r == 0) {
    fail_conn(EXIT_CONN, "server closed connection %ld after %" PRIu64 " echoed bytes",
              (long)(c - conns), c->received);
    close_conn(c);
    return;
  }
  steady_on_data(c, recvbuf, (size_t)r, now);
}

/* Open every connection, at most CONNECT_WAVE handshakes at a time: 10,000
 * connects at once would overflow the server's accept queue (SYN retried
 * after 1 s) and measure the backlog instead of the server. */
#define CONNECT_WAVE 256

static int steady_connect_all(void) {
  int n = opt.connections;
  int opened = 0, pending = 0, established = 0;
  struct epoll_event evs[512];
  uint64_t deadline = now_ns() + 10ull * 1000000000ull + (uint64_t)n * 1000000ull;
  while (established < n) {
    for (; opened < n && pending < CONNECT_WAVE; opened++) {
      struct conn* c = &conns[opened];
      c->start = stream_start((uint64_t)opened);
      c->send_ts = send_ts_all + (size_t)opened * (size_t)opt.depth;
      int fd = new_socket((uint64_t)opened);
      if (fd < 0) {
        fprintf(stderr, "loadgen: connect %s (connection %d of %d): %s\n", server_text, opened + 1,
                n, strerror(-fd));
        return EXIT_CONN;
      }
      c->fd = fd;
      c->state = ST_CONNECTING;
      struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
      if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
        perror("loadgen: epoll_ctl");
        return EXIT_CONN;
      }
      pending++;
    }
    uint64_t now = now_ns();
    if (now >= deadline) {
      fprintf(stderr, "loadgen: connect %s: %d of %d connections not established in time\n",
              server_text, n - established, n);
      return EXIT_CONN;
    }
    int k = epoll_wait(epfd, evs, 512, (int)((deadline - now) / 1000000 + 1));
    if (k < 0 && errno != EINTR) {
      perror("loadgen: epoll_wait");
      return EXIT_CONN;
    }
    if (interrupted) return EXIT_CONN;
    for (int j = 0; j < k; j++) {
      struct conn* c = evs[j].data.ptr;
      if (c->state != ST_CONNECTING) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        fprintf(stderr, "loadgen: connect %s (connection %ld of %d): %s\n", server_text,
                (long)(c - conns) + 1, n, strerror(err));
        return EXIT_CONN;
      }
      c->state = ST_ACTIVE;
      set_events(c, EPOLLIN);
      pending--;
      established++;
    }
  }
  return 0;
}

static void steady_start_all(uint64_t now) {
  for (int i = 0; i < opt.connections; i++) {
    struct conn* c = &conns[i];
    for (int m = 0; m < opt.depth; m++) c->send_ts[m] = now;
    c->queued = (uint64_t)opt.depth * (uint64_t)opt.size;
    steady_send(c);
  }
}

/* ---------- steady mode, io_uring engine ----------
 * Per round trip the client does: one SEND SQE (its successful completion
 * skipped at depth 1), one recv CQE from a multishot recv that stays armed,
 * and one provided buffer handed back; one io_uring_enter covers a whole
 * batch. The epoll engine does recv + send syscalls per round trip plus
 * epoll_wait; the kernel's TCP work (most of either figure) is the same. */

enum { UOP_RECV = 1, UOP_SEND = 2 };
#define BGID 1

static struct ring uring;
static struct io_uring_buf_ring* bufring;
static uint8_t* bufmem;
static unsigned buf_count, buf_size;
static unsigned short buf_tail; /* our tail; published to the kernel before each enter */
static int send_skip;           /* sends use IOSQE_CQE_SKIP_SUCCESS: see uring_setup */
static uint64_t recv_rearms;    /* multishot recv ended (e.g. ENOBUFS) and was armed again */

static void buf_give(unsigned bid) {
  struct io_uring_buf* b = &bufring->bufs[buf_tail & (buf_count - 1)];
  b->addr = (uint64_t)(uintptr_t)(bufmem + (size_t)bid * buf_size);
  b->len = buf_size;
  b->bid = (unsigned short)bid;
  buf_tail++;
}

static void buf_publish(void) {
  atomic_store_explicit((_Atomic unsigned short*)&bufring->tail, buf_tail, memory_order_release);
}

static unsigned pow2_at_least(unsigned x) {
  unsigned p = 1;
  while (p < x) p <<= 1;
  return p;
}

/* Returns 0, or -errno (the caller then falls back to epoll). */
static int uring_setup(void) {
  int err = ring_setup(&uring, 4096, 32768);
  if (err) return err;
  /* Enough buffers for every message in flight to land at once, twice. */
  unsigned want = pow2_at_least((unsigned)opt.connections * (unsigned)opt.depth * 2u);
  buf_count = want < 64 ? 64 : want > 32768 ? 32768 : want;
  unsigned sz = pow2_at_least((unsigned)opt.size);
  buf_size = sz < 1024 ? 1024 : sz > 65536 ? 65536 : sz;
  size_t ring_bytes = (size_t)buf_count * sizeof(struct io_uring_buf);
  bufring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bufmem = mmap(NULL, (size_t)buf_count * buf_size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (bufring == MAP_FAILED || bufmem == MAP_FAILED) return -ENOMEM;
  struct io_uring_buf_reg reg = {
      .ring_addr = (uint64_t)(uintptr_t)bufring, .ring_entries = buf_count, .bgid = BGID};
  if (syscall(__NR_io_uring_register, uring.fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
    return -errno;
  for (unsigned i = 0; i < buf_count; i++) buf_give(i);
  buf_publish();
  /* At depth 1 a connection's next SEND is prepared only after the whole
   * previous message came back, so the previous SEND is known complete and
   * its CQE is not needed; MSG_WAITALL makes a short send a failure, which
   * is still posted. Deeper pipelines, or messages too long for one SEND
   * from the pattern table, track each SEND's completion instead. */
  send_skip = opt.depth == 1 && (unsigned)opt.size <= PATTERN_TAIL;
  return 0;
}

static struct io_uring_sqe* uring_sqe(void) {
  struct io_uring_sqe* sqe = ring_sqe(&uring);
  if (!sqe) fail_conn(EXIT_CONN, "io_uring submission queue stuck");
  return sqe;
}

static void uring_arm_recv(struct conn* c) {
  struct io_uring_sqe* sqe = uring_sqe();
  if (!sqe) return;
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = (int)(c - conns); /* registered file index: no fd lookup per op */
  sqe->ioprio = IORING_RECV_MULTISHOT;
  sqe->flags = IOSQE_BUFFER_SELECT | IOSQE_FIXED_FILE;
  sqe->buf_group = BGID;
  sqe->user_data = (uint64_t)(c - conns) << 8 | UOP_RECV;
}

/* One SEND at a time per connection (two in flight on one socket could be
 * reordered if the first one has to wait for buffer space). `sent` moves
 * forward when the SEND is prepared and back if it comes back short. */
static void uring_send(struct conn* c) {
  if (c->want_write) return; /* a tracked SEND is in flight; its CQE sends the rest */
  uint32_t off = (uint32_t)((c->start + c->sent) % PATTERN_LEN);
  uint64_t len = c->queued - c->sent;
  uint64_t room = PATTERN_LEN + PATTERN_TAIL - off;
  if (len > room) len = room;
  struct io_uring_sqe* sqe = uring_sqe();
  if (!sqe) return;
  sqe->opcode = IORING_OP_SEND;
  sqe->fd = (int)(c - conns);
  sqe->addr = (uint64_t)(uintptr_t)(pattern + off);
  sqe->len = (unsigned)len;
  sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
  sqe->flags = IOSQE_FIXED_FILE | (send_skip ? IOSQE_CQE_SKIP_SUCCESS : 0);
  sqe->user_data = (uint64_t)(c - conns) << 8 | UOP_SEND;
  c->send_base = c->sent;
  c->sent += len;
  if (!send_skip) c->want_write = 1;
}

static void uring_on_cqe(void* ctx, const struct io_uring_cqe* cqe) {
  uint64_t now = *(const uint64_t*)ctx;
  struct conn* c = &conns[cqe->user_data >> 8];
  int res = cqe->res;
  if ((cqe->user_data & 0xff) == UOP_SEND) {
    if (c->state != ST_ACTIVE) return;
    if (res < 0) {
      fail_conn(EXIT_CONN, "send on connection %ld: %s", (long)(c - conns), strerror(-res));
      close_conn(c);
      return;
    }
    c->sent = c->send_base + (uint64_t)res;
    c->want_write = 0;
    if (c->sent < c->queued) uring_send(c);
    return;
  }
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (res > 0 && c->state == ST_ACTIVE)
      steady_on_data(c, bufmem + (size_t)bid * buf_size, (size_t)res, now);
    buf_give(bid);
  }
  if (c->state != ST_ACTIVE) return;
  if (res == 0) {
    fail_conn(EXIT_CONN, "server closed connection %ld after %" PRIu64 " echoed bytes",
              (long)(c - conns), c->received);
    close_conn(c);
    return;
  }
  if (res < 0 && res != -ENOBUFS) {
    fail_conn(EXIT_CONN, "recv on connection %ld: %s", (long)(c - conns), strerror(-res));
    close_conn(c);
    return;
  }
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    recv_rearms++;
    uring_arm_recv(c);
  }
}

/* ---------- churn mode ---------- */

static int churn_open(struct conn* c, uint64_t now) {
  uint64_t serial = churn_serial++;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->start = stream_start(serial);
  c->t_connect = now;
  int fd = new_socket(serial);
  if (fd < 0) {
    if (fd == -EADDRNOTAVAIL)
      fail_conn(EXIT_CONN, "connect %s: %s (ephemeral ports exhausted; try --churn-sources)",
                server_text, strerror(-fd));
    else
      fail_conn(EXIT_CONN, "connect %s: %s", server_text, strerror(-fd));
    c->state = ST_CLOSED;
    return -1;
  }
  c->fd = fd;
  c->state = ST_CONNECTING;
  c->queued = (uint64_t)opt.size;
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
    fail_conn(EXIT_CONN, "epoll_ctl: %s", strerror(errno));
    close_conn(c);
    return -1;
  }
  return 0;
}

static void churn_event(struct conn* c, uint32_t ev, uint64_t now) {
  if (c->state == ST_CONNECTING) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      fail_conn(EXIT_CONN, "connect %s: %s", server_text, strerror(err));
      close_conn(c);
      return;
    }
    c->state = ST_ACTIVE;
  }
  if (c->sent < c->queued) {
    int e = flush(c);
    if (e) {
      fail_conn(EXIT_CONN, "send: %s", strerror(-e));
      close_conn(c);
      return;
    }
  }
  if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  for (;;) {
    ssize_t r = recv(c->fd, recvbuf, sizeof recvbuf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      fail_conn(EXIT_CONN, "recv: %s", strerror(errno));
      close_conn(c);
      return;
    }
    if (r == 0) {
      fail_conn(EXIT_CONN, "server closed a connection after %" PRIu64 " of %d echoed bytes",
                c->received, opt.size);
      close_conn(c);
      return;
    }
    if (c->received + (uint64_t)r > (uint64_t)opt.size) {
      fail_conn(EXIT_MISMATCH, "a connection received %" PRIu64 " bytes more than it sent",
                c->received + (uint64_t)r - (uint64_t)opt.size);
      mismatch_events++;
    }
    uint64_t bad = verify(c, recvbuf, (size_t)r);
    if (bad) {
      fail_conn(EXIT_MISMATCH,
                "%" PRIu64
                " echoed bytes differ from what was sent (connection serial offset %" PRIu64 ")",
                bad, c->received);
      mismatch_events++;
      m_errors_mismatch_bytes += bad;
    }
    c->received += (uint64_t)r;
    if (c->received >= (uint64_t)opt.size) {
      if (measuring) {
        hist_record(now - c->t_connect);
        m_roundtrips++;
      } else
        warm_roundtrips++;
      close_conn(c);
      if (!stopping) churn_open(c, now);
      return;
    }
  }
}

/* ---------- the measuring window ---------- */

static void marker(const char* what) {
  if (opt.markers) {
    fprintf(stderr, "loadgen: %s\n", what);
    fflush(stderr);
  }
}

static uint64_t warm_end, run_end, m_start, m_end, cpu_start, cpu_end;

/* Switches from warm-up to measuring when it is time. Returns the ns until
 * the next switch or the end of the run; 0 when the run is over. */
static uint64_t clock_tick(uint64_t now) {
  if (!measuring && now >= warm_end) {
    measuring = 1;
    m_start = now;
    cpu_start = cpu_ns();
    marker("measure start");
  }
  if (now >= run_end) return 0;
  return (measuring ? run_end : warm_end) - now;
}

/* A JSON string literal for s, or null when s is empty. */
static void json_string(const char* s) {
  if (!s[0]) {
    fputs("null", stdout);
    return;
  }
  putchar('"');
  for (const char* p = s; *p; p++) {
    if (*p == '"' || *p == '\\') putchar('\\');
    putchar((unsigned char)*p < 0x20 ? ' ' : *p);
  }
  putchar('"');
}

/* ---------- hold mode ----------
 * Open every connection, echo one message on each (verified, so each is
 * known to be served), then keep them all open and idle for --duration s.
 * The runner reads the server's RSS while they are held. */
static int hold_run(void) {
  uint64_t t0 = now_ns();
  int rc = steady_connect_all();
  if (rc) return rc;
  stopping = 1; /* one message per connection, no next one */
  measuring = 1;
  steady_start_all(now_ns());
  struct epoll_event evs[512];
  uint64_t deadline = now_ns() + 10ull * 1000000000ull;
  while (m_roundtrips < (uint64_t)opt.connections && !conn_failed && !interrupted &&
         now_ns() < deadline) {
    int k = epoll_wait(epfd, evs, 512, 100);
    for (int j = 0; j < k; j++) {
      struct conn* c = evs[j].data.ptr;
      if (c->state == ST_CLOSED) continue;
      if ((evs[j].events & EPOLLOUT) && c->want_write) epoll_send(c);
      if (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) steady_on_read(c, now_ns());
    }
  }
  double setup_s = (double)(now_ns() - t0) / 1e9;
  uint64_t echoed = m_roundtrips;
  if (!conn_failed && echoed < (uint64_t)opt.connections)
    fail_conn(EXIT_CONN, "only %" PRIu64 " of %d connections echoed their message within 10 s",
              echoed, opt.connections);
  int still_open = 0;
  if (!conn_failed && !mismatch_events) {
    marker("holding");
    uint64_t until = now_ns() + (uint64_t)(opt.duration * 1e9);
    while (!interrupted && now_ns() < until) {
      struct timespec ts = {0, 10 * 1000000};
      nanosleep(&ts, NULL);
    }
    /* Still open means: nothing to read and no EOF or error pending. */
    for (int i = 0; i < opt.connections; i++) {
      char b;
      ssize_t r = recv(conns[i].fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
      if (r < 0 && errno == EAGAIN) still_open++;
    }
    marker("released");
    if (still_open < opt.connections)
      fail_conn(EXIT_CONN, "%d of %d connections were closed or errored while held idle",
                opt.connections - still_open, opt.connections);
  }
  int status = mismatch_events ? EXIT_MISMATCH : conn_failed ? EXIT_CONN : 0;
  const char* err = mismatch_events ? mismatch_error : conn_error;
  if (opt.json) {
    printf(
        "{\"ok\":%s,\"mode\":\"hold\",\"server\":\"%s\",\"connections\":%d,\"size\":%d,\"echoed\":"
        "%" PRIu64
        ",\"still_open\":%d,\"setup_s\":%.3f,\"hold_s\":%.3f,\"latency_us\":{\"p50\":%.2f,\"p99\":%"
        ".2f},\"exit_code\":%d,\"error\":",
        status ? "false" : "true", server_text, opt.connections, opt.size, echoed, still_open,
        setup_s, opt.duration, (double)hist_quantile(0.5) / 1e3, (double)hist_quantile(0.99) / 1e3,
        status);
    json_string(err);
    puts("}");
  } else {
    printf("loadgen hold %s: %d connections, %d-byte message each\n", server_text, opt.connections,
           opt.size);
    printf("  echoed           %" PRIu64
           " of %d (every byte verified) in %.3f s with the connects\n",
           echoed, opt.connections, setup_s);
    printf("  held idle        %.1f s, %d still open afterwards\n", opt.duration, still_open);
  }
  fflush(stdout);
  if (status) fprintf(stderr, "loadgen: FAILED: %s\n", err);
  return status;
}

/* ---------- main loop ---------- */

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

int main(int argc, char** argv) {
  parse_args(argc, argv);
  resolve_host();
  pattern_init();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    perror("loadgen: epoll_create1");
    return EXIT_CONN;
  }
  conns = calloc((size_t)opt.connections, sizeof *conns);
  send_ts_all = calloc((size_t)opt.connections * (size_t)opt.depth, sizeof *send_ts_all);
  if (!conns || !send_ts_all) {
    fputs("loadgen: out of memory\n", stderr);
    return EXIT_CONN;
  }
  for (int i = 0; i < opt.connections; i++) conns[i].fd = -1;

  steady_send = epoll_send;
  if (opt.hold) return hold_run();
  const char* engine = "epoll";
  if (!opt.churn && opt.uring) {
    int err = uring_setup();
    if (err)
      fprintf(stderr, "loadgen: io_uring engine unavailable (%s%s); using epoll\n", strerror(-err),
              ring_setup_hint(-err));
    else {
      steady_send = uring_send;
      engine = "io_uring";
    }
  }

  uint64_t t0 = now_ns();
  if (!opt.churn) {
    int rc = steady_connect_all();
    if (rc) return rc;
    if (steady_send == uring_send) {
      /* From here the ring does all socket I/O; epoll only did the connects.
       * Connection i is registered file i. */
      int* fds = malloc((size_t)opt.connections * sizeof *fds);
      for (int i = 0; i < opt.connections; i++) fds[i] = conns[i].fd;
      if (!fds || syscall(__NR_io_uring_register, uring.fd, IORING_REGISTER_FILES, fds,
                          (unsigned)opt.connections) < 0) {
        fprintf(stderr, "loadgen: io_uring_register(FILES): %s\n", strerror(errno));
        return EXIT_CONN;
      }
      free(fds);
      for (int i = 0; i < opt.connections; i++) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, conns[i].fd, NULL);
        uring_arm_recv(&conns[i]);
      }
    }
    t0 = now_ns();
    steady_start_all(t0);
  } else {
    for (int i = 0; i < opt.connections && !conn_failed; i++) churn_open(&conns[i], t0);
  }

  warm_end = t0 + (uint64_t)(opt.warmup * 1e9);
  run_end = warm_end + (uint64_t)(opt.duration * 1e9);

  if (steady_send == uring_send) {
    while (!conn_failed && !interrupted) {
      uint64_t now = now_ns();
      uint64_t left = clock_tick(now);
      if (!left) break;
      buf_publish();
      int err = ring_enter_timeout(&uring, 1, left);
      if (err) {
        fail_conn(EXIT_CONN, "io_uring_enter: %s", strerror(-err));
        break;
      }
      /* One timestamp per batch: the moment the client learns of these
       * completions, which is what a closed-loop client can observe. */
      now = now_ns();
      ring_reap(&uring, uring_on_cqe, &now);
    }
  }
  struct epoll_event evs[512];
  while (steady_send != uring_send && !conn_failed && !interrupted) {
    uint64_t now = now_ns();
    uint64_t left = clock_tick(now);
    if (!left) break;
    int k = epoll_wait(epfd, evs, 512, (int)((left + 999999) / 1000000));
    if (k < 0) {
      if (errno == EINTR) continue;
      fail_conn(EXIT_CONN, "epoll_wait: %s", strerror(errno));
      break;
    }
    for (int j = 0; j < k; j++) {
      struct conn* c = evs[j].data.ptr;
      if (c->state == ST_CLOSED) continue;
      now = now_ns();
      if (opt.churn) {
        churn_event(c, evs[j].events, now);
      } else {
        uint32_t ev = evs[j].events;
        if ((ev & EPOLLOUT) && c->want_write) {
          int e = flush(c);
          if (e) {
            fail_conn(EXIT_CONN, "send on connection %ld: %s", (long)(c - conns), strerror(-e));
            close_conn(c);
            continue;
          }
        }
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) steady_on_read(c, now);
      }
    }
  }
  m_end = now_ns();
  if (measuring) {
    cpu_end = cpu_ns();
    marker("measure end");
  }
  stopping = 1;
  if (!measuring) {
    m_start = m_end;
    cpu_start = cpu_end = 0;
  }

  double secs = (double)(m_end - m_start) / 1e9;
  double rps = secs > 0 ? (double)m_roundtrips / secs : 0;
  double mbps = rps * (double)opt.size / 1e6;
  double cpu_s = (double)(cpu_end - cpu_start) / 1e9;
  double cpu_pct = secs > 0 ? 100.0 * cpu_s / secs : 0;
  double cpu_us_rt = m_roundtrips ? (double)(cpu_end - cpu_start) / 1e3 / (double)m_roundtrips : 0;
  double p50 = (double)hist_quantile(0.50) / 1e3, p99 = (double)hist_quantile(0.99) / 1e3,
         p999 = (double)hist_quantile(0.999) / 1e3, pmax = (double)hist_max / 1e3;

  if (interrupted) fail_conn(EXIT_CONN, "interrupted");
  if (!conn_failed && !mismatch_events && m_roundtrips == 0)
    fail_conn(EXIT_CONN, "no round trip completed in the measured window (server not echoing?)");
  int status = mismatch_events ? EXIT_MISMATCH : conn_failed ? EXIT_CONN : 0;
  const char* first_error = mismatch_events ? mismatch_error : conn_error;

  if (opt.json) {
    printf("{\"ok\":%s,\"mode\":\"%s\",\"engine\":\"%s\",\"recv_rearms\":%" PRIu64
           ",\"server\":\"%s\",\"connections\":%d,\"size\":%d,\"depth\":%d,"
           "\"warmup_s\":%.3f,\"duration_s\":%.6f,\"roundtrips\":%" PRIu64
           ",\"roundtrips_per_s\":%.1f,"
           "\"connections_per_s\":%.1f,\"mb_per_s\":%.3f,\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,"
           "\"p999\":%.2f,\"max\":%.2f},"
           "\"client_cpu_s\":%.6f,\"client_cpu_pct\":%.1f,\"client_cpu_us_per_rt\":%.3f,"
           "\"mismatched_bytes\":%" PRIu64 ",\"mismatch_events\":%" PRIu64
           ",\"exit_code\":%d,\"error\":",
           status ? "false" : "true", opt.churn ? "churn" : "steady", engine, recv_rearms,
           server_text, opt.connections, opt.size, opt.depth, opt.warmup, secs, m_roundtrips, rps,
           opt.churn ? rps : 0.0, mbps, p50, p99, p999, pmax, cpu_s, cpu_pct, cpu_us_rt,
           m_errors_mismatch_bytes, mismatch_events, status);
    json_string(first_error);
    puts("}");
  } else {
    printf("loadgen %s (%s) %s: %d %s, %d-byte messages%s, %.1f s warm-up, %.3f s measured\n",
           opt.churn ? "churn" : "steady", engine, server_text, opt.connections,
           opt.churn ? "concurrent connects" : "connections", opt.size,
           opt.churn ? "" : (opt.depth > 1 ? " (pipelined)" : ""), opt.warmup, secs);
    if (!opt.churn && opt.depth > 1)
      printf("  depth            %d messages in flight per connection\n", opt.depth);
    if (opt.churn)
      printf("  connections/s    %.0f   (%" PRIu64 " connect+echo+close)\n", rps, m_roundtrips);
    else
      printf("  round trips/s    %.0f   (%" PRIu64 " round trips)\n", rps, m_roundtrips);
    printf("  MB/s             %.2f   (message bytes x round trips)\n", mbps);
    printf("  latency us       p50 %.1f   p99 %.1f   p99.9 %.1f   max %.1f%s\n", p50, p99, p999,
           pmax, opt.churn ? "   (connect -> full echo)" : "");
    printf("  client CPU       %.3f s = %.0f%% of one core, %.2f us per round trip%s\n", cpu_s,
           cpu_pct, cpu_us_rt,
           cpu_pct >= 90 ? "   (client saturated: results are client-bound)" : "");
    printf("  verified         %s\n",
           m_errors_mismatch_bytes || mismatch_events ? "MISMATCH" : "every echoed byte matched");
  }
  fflush(stdout);
  if (conn_failed && status == EXIT_MISMATCH) fprintf(stderr, "loadgen: FAILED: %s\n", conn_error);
  if (status) {
    if (status == EXIT_MISMATCH)
      fprintf(stderr,
              "loadgen: FAILED: echoed data did not match what was sent: %s (%" PRIu64
              " bytes in %" PRIu64 " events)\n",
              first_error, m_errors_mismatch_bytes, mismatch_events);
    else
      fprintf(stderr, "loadgen: FAILED: %s\n", first_error);
  }
  for (int i = 0; i < opt.connections; i++)
    if (conns[i].fd >= 0) close(conns[i].fd);
  return status;
}
