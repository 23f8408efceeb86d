#include "drivers/uring/buf_ring.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "drivers/uring/syscalls.h"

namespace percore {

int RegisterBufRing(int ring_fd, void* ring, uint32_t entries) {
  std::memset(ring, 0, entries * sizeof(io_uring_buf));  // tail 0, as the kernel's head
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(ring);
  reg.ring_entries = entries;
  reg.bgid = kBufferGroup;
  return SysRegister(ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1);
}

void UnregisterBufRing(int ring_fd) {
  io_uring_buf_reg reg{};
  reg.bgid = kBufferGroup;
  SysRegister(ring_fd, IORING_UNREGISTER_PBUF_RING, &reg, 1);
}

size_t PageAligned(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

bool CanRegisterBufRing(int fd) {
  const size_t page = PageAligned(1);
  void* ring = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) return false;
  const bool ok = RegisterBufRing(fd, ring, 1) == 0;
  if (ok) UnregisterBufRing(fd);
  munmap(ring, page);
  return ok;
}

}  // namespace percore
