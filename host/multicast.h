// Multicast group membership of a datagram socket (IP_ADD_MEMBERSHIP and
// its IPv6 twin): the group and the interface come as text and are parsed
// and checked here before the kernel sees them.
#pragma once

#include <cstdint>

#include "fd_table.h"

namespace percore {

// Joins (join = true) or leaves `group` (an IPv4 or IPv6 multicast address)
// on the interface `iface`: for IPv4 the interface's address ("" or null:
// the kernel's choice), for IPv6 an interface name or index ("" or null:
// the default). -EINVAL for an address that is not multicast or an
// interface that does not parse; else 0 or the kernel's -errno.
int32_t Membership(const FdTable& fds, int32_t fd, const char* group, const char* iface, bool join);

}  // namespace percore
