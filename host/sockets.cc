#include "sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace percore {

namespace {

namespace L = layout;

uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Parses "%scope": a decimal index or an interface name. 0 on failure.
uint32_t ParseScope(const char* scope) {
  if (*scope == '\0') return 0;
  char* end = nullptr;
  unsigned long n = std::strtoul(scope, &end, 10);
  if (*end == '\0') return n > 0xffffffffu ? 0 : static_cast<uint32_t>(n);
  return if_nametoindex(scope);
}

}  // namespace

socklen_t DecodeAddress(const uint8_t* record, SockAddr* out) {
  std::memset(out, 0, sizeof *out);
  const uint16_t family = LoadU16(record + L::kAddrFamily);
  const uint16_t port = LoadU16(record + L::kAddrPort);
  if (family == 4) {
    out->in4.sin_family = AF_INET;
    out->in4.sin_port = htons(port);
    std::memcpy(&out->in4.sin_addr, record + L::kAddrBytes, 4);
    return sizeof out->in4;
  }
  if (family == 6) {
    out->in6.sin6_family = AF_INET6;
    out->in6.sin6_port = htons(port);
    out->in6.sin6_scope_id = LoadU32(record + L::kAddrScopeId);
    out->in6.sin6_flowinfo = htonl(LoadU32(record + L::kAddrFlowinfo));
    std::memcpy(&out->in6.sin6_addr, record + L::kAddrBytes, 16);
    return sizeof out->in6;
  }
  return 0;
}

void EncodeSockAddr(const SockAddr& addr, socklen_t len, uint8_t* record) {
  uint16_t family = 0, port = 0;
  uint32_t scope = 0, flowinfo = 0;
  uint8_t bytes[16] = {};
  if (addr.sa.sa_family == AF_INET && len >= sizeof addr.in4) {
    family = 4;
    port = ntohs(addr.in4.sin_port);
    std::memcpy(bytes, &addr.in4.sin_addr, 4);
  } else if (addr.sa.sa_family == AF_INET6 && len >= sizeof addr.in6) {
    family = 6;
    port = ntohs(addr.in6.sin6_port);
    scope = addr.in6.sin6_scope_id;
    flowinfo = ntohl(addr.in6.sin6_flowinfo);
    std::memcpy(bytes, &addr.in6.sin6_addr, 16);
  }
  std::memcpy(record + L::kAddrFamily, &family, 2);
  std::memcpy(record + L::kAddrPort, &port, 2);
  std::memcpy(record + L::kAddrScopeId, &scope, 4);
  std::memcpy(record + L::kAddrFlowinfo, &flowinfo, 4);
  std::memcpy(record + L::kAddrBytes, bytes, 16);
}

int32_t OpenSocket(FdTable& fds, int32_t family, int32_t type) {
  int domain;
  switch (family) {
    case 4: domain = AF_INET; break;
    case 6: domain = AF_INET6; break;
    case kFamilyUnix: domain = AF_UNIX; break;
    default: return -EAFNOSUPPORT;
  }
  // Only the types the API offers; SOCK_RAW and the rest never get here.
  if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) return -EINVAL;
  if (type == SOCK_SEQPACKET && domain != AF_UNIX) return -EPROTONOSUPPORT;
  // Non-blocking: io_uring polls for readiness itself, and a socket handed
  // to other code later must not block its thread.
  const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (!fds.Add(fd)) {
    ::close(fd);
    return -EMFILE;
  }
  return fd;
}

int32_t OpenPipe(FdTable& fds, int32_t fds_out[2]) {
  int p[2];
  if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
  if (!fds.Add(p[0])) {
    ::close(p[0]);
    ::close(p[1]);
    return -EMFILE;
  }
  if (!fds.Add(p[1])) {
    fds.Remove(p[0]);
    ::close(p[0]);
    ::close(p[1]);
    return -EMFILE;
  }
  fds_out[0] = p[0];
  fds_out[1] = p[1];
  return 0;
}

namespace {

// The options, by the layout's SOCKOPT_* number: one table for setting and
// reading back. An IP-level option has an IPv6 twin (level6/name6, used on
// an AF_INET6 socket); `max` > 1 makes it an integer in [0, max] (a hop
// count), else a boolean.
struct BooleanOption {
  uint32_t option;
  int level;
  int name;
  int level6 = -1;
  int name6 = -1;
  int max = 1;
};
constexpr BooleanOption kBooleanOptions[] = {
    {L::kSockoptReuseaddr, SOL_SOCKET, SO_REUSEADDR},
    {L::kSockoptReuseport, SOL_SOCKET, SO_REUSEPORT},
    {L::kSockoptNodelay, IPPROTO_TCP, TCP_NODELAY},
    {L::kSockoptKeepalive, SOL_SOCKET, SO_KEEPALIVE},
    {L::kSockoptBroadcast, SOL_SOCKET, SO_BROADCAST},
    {L::kSockoptTtl, IPPROTO_IP, IP_TTL, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255},
    {L::kSockoptMulticastTtl, IPPROTO_IP, IP_MULTICAST_TTL, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255},
    {L::kSockoptMulticastLoop, IPPROTO_IP, IP_MULTICAST_LOOP, IPPROTO_IPV6, IPV6_MULTICAST_LOOP},
    {L::kSockoptV6only, IPPROTO_IPV6, IPV6_V6ONLY},
    {L::kSockoptKeepidle, IPPROTO_TCP, TCP_KEEPIDLE, -1, -1, 32767},
    {L::kSockoptKeepintvl, IPPROTO_TCP, TCP_KEEPINTVL, -1, -1, 32767},
    {L::kSockoptKeepcnt, IPPROTO_TCP, TCP_KEEPCNT, -1, -1, 127},
    {L::kSockoptRcvbuf, SOL_SOCKET, SO_RCVBUF, -1, -1, 1 << 30},
    {L::kSockoptSndbuf, SOL_SOCKET, SO_SNDBUF, -1, -1, 1 << 30},
    {L::kSockoptFastopen, IPPROTO_TCP, TCP_FASTOPEN, -1, -1, 65535},
    {L::kSockoptFastopenConnect, IPPROTO_TCP, TCP_FASTOPEN_CONNECT},
    {L::kSockoptDeferAccept, IPPROTO_TCP, TCP_DEFER_ACCEPT, -1, -1, 3600},
};

const BooleanOption* FindBoolean(uint32_t option) {
  for (const BooleanOption& b : kBooleanOptions) {
    if (b.option == option) return &b;
  }
  return nullptr;
}

// The level and name of `b` for this socket's family.
void LevelAndName(const BooleanOption& b, int fd, int* level, int* name) {
  *level = b.level;
  *name = b.name;
  if (b.level6 < 0) return;
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_INET6) {
    *level = b.level6;
    *name = b.name6;
  }
}

}  // namespace

int32_t SetSocketOption(const FdTable& fds, int32_t fd, uint32_t option, int32_t value) {
  if (!fds.Contains(fd)) return -EBADF;
  const int on = value != 0 ? 1 : 0;
  if (option == L::kSockoptLingerZero) {
    // On: close() sends RST and drops unsent data (abortive close).
    const linger l{on, 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0 ? 0 : -errno;
  }
  if (option == L::kSockoptLinger) {
    // -1: off; 0..65535 seconds: close waits that long for unsent data.
    if (value < -1 || value > 65535) return -EINVAL;
    const linger l{value >= 0 ? 1 : 0, value >= 0 ? value : 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0 ? 0 : -errno;
  }
  const BooleanOption* b = FindBoolean(option);
  if (b == nullptr) return -EINVAL;
  if (b->max > 1 && (value < 0 || value > b->max)) return -EINVAL;
  const int v = b->max > 1 ? value : on;
  int level, name;
  LevelAndName(*b, fd, &level, &name);
  return setsockopt(fd, level, name, &v, sizeof v) == 0 ? 0 : -errno;
}

int32_t GetSocketOption(const FdTable& fds, int32_t fd, uint32_t option) {
  if (!fds.Contains(fd)) return -EBADF;
  if (option == L::kSockoptLingerZero) {
    linger l{};
    socklen_t len = sizeof l;
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) != 0) return -errno;
    return l.l_onoff != 0 && l.l_linger == 0 ? 1 : 0;
  }
  if (option == L::kSockoptLinger) {
    linger l{};
    socklen_t len = sizeof l;
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) != 0) return -errno;
    return l.l_onoff != 0 ? l.l_linger : kLingerOffReadBack;
  }
  const BooleanOption* b = FindBoolean(option);
  if (b == nullptr) return -EINVAL;
  int v = 0;
  socklen_t len = sizeof v;
  int level, name;
  LevelAndName(*b, fd, &level, &name);
  if (getsockopt(fd, level, name, &v, &len) != 0) return -errno;
  // IP_MULTICAST_TTL/LOOP may answer one byte.
  if (len == 1) v = static_cast<uint8_t>(v);
  return b->max > 1 ? v : (v != 0 ? 1 : 0);
}

int32_t BindStaging(const FdTable& fds, const CoreMemory& memory, int32_t fd) {
  if (!fds.Contains(fd)) return -EBADF;
  SockAddr addr;
  const socklen_t len = DecodeAddress(memory.At(memory.addr_staging()), &addr);
  if (len == 0) return -EINVAL;
  return ::bind(fd, &addr.sa, len) == 0 ? 0 : -errno;
}

int32_t Listen(const FdTable& fds, int32_t fd, int32_t backlog) {
  if (!fds.Contains(fd)) return -EBADF;
  return ::listen(fd, backlog) == 0 ? 0 : -errno;
}

int32_t EncodeAddress(const CoreMemory& memory, const char* ip, int64_t port, uint32_t offset) {
  if (!memory.IsAddrRecord(offset) || port < 0 || port > 65535) return -EINVAL;
  uint8_t bytes[16] = {};
  uint16_t family;
  uint32_t scope = 0;
  if (inet_pton(AF_INET, ip, bytes) == 1) {
    family = 4;
  } else {
    // Split "addr%scope"; INET6_ADDRSTRLEN bounds a valid address part.
    char text[INET6_ADDRSTRLEN];
    const char* percent = std::strchr(ip, '%');
    const size_t n = percent ? static_cast<size_t>(percent - ip) : std::strlen(ip);
    if (n >= sizeof text) return -EINVAL;
    std::memcpy(text, ip, n);
    text[n] = '\0';
    if (inet_pton(AF_INET6, text, bytes) != 1) return -EINVAL;
    if (percent != nullptr) {
      scope = ParseScope(percent + 1);
      if (scope == 0) return -EINVAL;
    }
    family = 6;
  }
  uint8_t record[L::kAddrRecordSize] = {};
  const uint16_t port16 = static_cast<uint16_t>(port);
  std::memcpy(record + L::kAddrFamily, &family, 2);
  std::memcpy(record + L::kAddrPort, &port16, 2);
  std::memcpy(record + L::kAddrScopeId, &scope, 4);
  std::memcpy(record + L::kAddrBytes, bytes, 16);
  std::memcpy(memory.At(offset), record, sizeof record);
  return 0;
}

int32_t SocketAddress(const FdTable& fds, int32_t fd, bool peer, AddressText* out) {
  if (!fds.Contains(fd)) return -EBADF;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  const int r = peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len);
  if (r != 0) return -errno;
  return FormatAddress(ss, out);
}

int32_t RecordAddress(const CoreMemory& memory, uint32_t offset, AddressText* out) {
  if (!memory.IsAddrRecord(offset)) return -EINVAL;
  SockAddr addr;
  if (DecodeAddress(memory.At(offset), &addr) == 0) return -EAFNOSUPPORT;
  sockaddr_storage ss{};
  std::memcpy(&ss, &addr, sizeof addr);
  return FormatAddress(ss, out);
}

int32_t FormatAddress(const sockaddr_storage& ss, AddressText* out) {
  if (ss.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in4->sin_addr, out->address, sizeof out->address);
    out->family = 4;
    out->port = ntohs(in4->sin_port);
    return 0;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, out->address, sizeof out->address);
    // Like Node: a link-local address names its interface.
    if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) && in6->sin6_scope_id != 0) {
      const size_t n = std::strlen(out->address);
      char name[IF_NAMESIZE];
      if (if_indextoname(in6->sin6_scope_id, name) != nullptr) {
        std::snprintf(out->address + n, sizeof out->address - n, "%%%s", name);
      } else {
        std::snprintf(out->address + n, sizeof out->address - n, "%%%u", in6->sin6_scope_id);
      }
    }
    out->family = 6;
    out->port = ntohs(in6->sin6_port);
    return 0;
  }
  return -EAFNOSUPPORT;
}

int32_t CloseOwnedFd(FdTable& fds, int32_t fd) {
  if (!fds.BeginClose(fd)) return -EBADF;
  // Linux releases the fd even if close reports EINTR; only EBADF/EIO are
  // worth reporting. The claim is dropped only once the number is closed.
  const int r = ::close(fd) != 0 && errno != EINTR ? -errno : 0;
  fds.EndClose(fd);
  return r;
}

}  // namespace percore
