// Synchronous socket set-up helpers behind the driver's JS methods, and the
// conversion between the layout's neutral address record and sockaddr.
//
// Every helper returns a value >= 0 or a negative Linux errno; none throws.
// Fds they create are recorded in the driver's FdTable (and only those, plus
// accepted connections, may appear in SQEs).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>

#include "core_memory.h"
#include "fd_table.h"

namespace percore {

union SockAddr {
  sockaddr sa;
  sockaddr_in in4;
  sockaddr_in6 in6;
  sockaddr_un un;  // a datagram's Unix sender or destination (MsgSlots)
};

// Address record (32 bytes, layout v1) -> sockaddr. Returns the sockaddr
// length, or 0 if the record's family is neither 4 nor 6.
socklen_t DecodeAddress(const uint8_t* record, SockAddr* out);
// sockaddr (of `len` bytes, as the kernel reported it) -> address record.
// An address of another family, or a length too short for its family,
// writes family 0 (none). ADDR_MSG_FLAGS is left as it was.
void EncodeSockAddr(const SockAddr& addr, socklen_t len, uint8_t* record);

// A decoded socket address for JS: the text form Node uses (IPv6 link-local
// with "%scope"), family 4 or 6, port.
struct AddressText {
  char address[64];
  int family;
  uint16_t port;
};

// The API's family numbers: 4 (IPv4), 6 (IPv6) and kFamilyUnix.
constexpr int32_t kFamilyUnix = 1;
// A socket of `family` and `type` (SOCK_STREAM, SOCK_DGRAM, or SOCK_SEQPACKET
// for Unix only): fd or -errno.
int32_t OpenSocket(FdTable& fds, int32_t family, int32_t type);
int32_t OpenPipe(FdTable& fds, int32_t fds_out[2]);  // 0 or -errno
int32_t SetSocketOption(const FdTable& fds, int32_t fd, uint32_t option,
                        int32_t value);  // 0 or -errno
// SOCKOPT_LINGER read back when off (set with -1: a negative answer is an errno).
constexpr int32_t kLingerOffReadBack = 65536;
// What SetSocketOption set: 0 or 1 (an integer option: its value), or -errno.
int32_t GetSocketOption(const FdTable& fds, int32_t fd, uint32_t option);
int32_t BindStaging(const FdTable& fds, const CoreMemory& memory, int32_t fd);
int32_t Listen(const FdTable& fds, int32_t fd, int32_t backlog);
// Parses ip (IPv4, or IPv6 with an optional %scope given as a number or an
// interface name) and port into the record at `offset`, which must be the
// staging record or an op's record. 0 or -EINVAL.
int32_t EncodeAddress(const CoreMemory& memory, const char* ip, int64_t port, uint32_t offset);
// getsockname (peer = false) / getpeername (peer = true). 0 or -errno.
int32_t SocketAddress(const FdTable& fds, int32_t fd, bool peer, AddressText* out);
// The address in the record at `offset` (the staging record or an op's, as a
// RECVMSG's host wrote it): 0, -EINVAL (not a record), -EAFNOSUPPORT (none).
int32_t RecordAddress(const CoreMemory& memory, uint32_t offset, AddressText* out);
// An IPv4 or IPv6 sockaddr as text: 0, or -EAFNOSUPPORT.
int32_t FormatAddress(const sockaddr_storage& ss, AddressText* out);
int32_t CloseOwnedFd(FdTable& fds, int32_t fd);  // 0 or -errno

}  // namespace percore
