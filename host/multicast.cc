#include "multicast.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace percore {

namespace {

// "", a decimal index or an interface name -> index (0: the default). -1 if none such.
int64_t InterfaceIndex(const char* iface) {
  if (iface == nullptr || *iface == '\0') return 0;
  char* end = nullptr;
  const unsigned long n = std::strtoul(iface, &end, 10);
  if (*end == '\0') return n > 0xffffffffu ? -1 : static_cast<int64_t>(n);
  const unsigned index = if_nametoindex(iface);
  return index == 0 ? -1 : index;
}

}  // namespace

int32_t Membership(const FdTable& fds, int32_t fd, const char* group, const char* iface,
                   bool join) {
  if (!fds.Contains(fd)) return -EBADF;
  in_addr g4;
  if (inet_pton(AF_INET, group, &g4) == 1) {
    if (!IN_MULTICAST(ntohl(g4.s_addr))) return -EINVAL;
    ip_mreq req{};
    req.imr_multiaddr = g4;
    req.imr_interface.s_addr = htonl(INADDR_ANY);
    if (iface != nullptr && *iface != '\0' && inet_pton(AF_INET, iface, &req.imr_interface) != 1) {
      return -EINVAL;
    }
    const int name = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
    return setsockopt(fd, IPPROTO_IP, name, &req, sizeof req) == 0 ? 0 : -errno;
  }
  in6_addr g6;
  if (inet_pton(AF_INET6, group, &g6) != 1 || !IN6_IS_ADDR_MULTICAST(&g6)) return -EINVAL;
  const int64_t index = InterfaceIndex(iface);
  if (index < 0) return -EINVAL;
  ipv6_mreq req{};
  req.ipv6mr_multiaddr = g6;
  req.ipv6mr_interface = static_cast<unsigned>(index);
  const int name = join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP;
  return setsockopt(fd, IPPROTO_IPV6, name, &req, sizeof req) == 0 ? 0 : -errno;
}

}  // namespace percore
