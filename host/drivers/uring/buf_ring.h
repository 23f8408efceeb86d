// The recv set in a registered buffer ring (IORING_REGISTER_PBUF_RING,
// 5.19+): the kernel picks a buffer from it when a RECV's data arrives.
#pragma once

#include <linux/io_uring.h>

#include <cstddef>
#include <cstdint>

namespace percore {

// The buffer group of the recv set: one per ring.
constexpr uint16_t kBufferGroup = 0;

// declares `bufs` with __DECLARE_FLEX_ARRAY, whose empty struct member has
// size 1 in C++ (0 only in C), so in C++ `bufs` lands at offset 8 and every
// entry written through it would sit 8 bytes past where the kernel looks
// (each buffer-select RECV then answers -ENOBUFS). The ring's tail (offset 14)
// overlaps entry 0's `resv`, as the kernel defines it: entries are written
// field by field, never whole, so the tail is never overwritten.
inline io_uring_buf* BufRingEntries(io_uring_buf_ring* ring) {
  return reinterpret_cast<io_uring_buf*>(ring);
}
static_assert(sizeof(io_uring_buf) == 16, "the kernel's buffer ring entry is 16 bytes");
static_assert(offsetof(io_uring_buf_ring, tail) == offsetof(io_uring_buf, resv),
              "the ring's tail overlaps entry 0's resv");

// Registers a buffer ring of `entries` (a power of two) at `ring` as group
// kBufferGroup. 0 or -errno (-EINVAL before 5.19).
int RegisterBufRing(int ring_fd, void* ring, uint32_t entries);
// Stops the kernel reading the group's ring (before its memory is unmapped).
void UnregisterBufRing(int ring_fd);

// `bytes` rounded up to whole pages (the kernel wants the ring page-aligned).
size_t PageAligned(size_t bytes);

// Whether ring `fd` accepts a buffer ring (5.19+): registers a one-entry ring
// and drops it. Registration success is the answer; the ring works when it
// registers (see BufRingEntries for the one way it seemed not to).
bool CanRegisterBufRing(int fd);

}  // namespace percore
