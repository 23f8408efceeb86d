// The three io_uring system calls and the memory orderings the shared rings
// need. No liburing: raw syscall(2) and <linux/io_uring.h>.
#pragma once

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace percore {

inline int SysSetup(unsigned entries, io_uring_params* p) {
  long r = syscall(__NR_io_uring_setup, entries, p);
  return r < 0 ? -errno : static_cast<int>(r);
}

inline int SysEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                    const void* arg, size_t arg_size) {
  long r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, arg_size);
  return r < 0 ? -errno : static_cast<int>(r);
}

inline int SysRegister(int fd, unsigned opcode, const void* arg, unsigned nr_args) {
  long r = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
  return r < 0 ? -errno : static_cast<int>(r);
}

template <typename T>
inline T LoadAcquire(const T* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <typename T>
inline void StoreRelease(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

}  // namespace percore
