// CPU affinity of the calling thread (sched_setaffinity(0, ...)): pinning a
// runtime's thread to its core. Returns >= 0 or a negative Linux errno.
#pragma once

#include <cstdint>

namespace percore {

// The most CPUs get/set handle: the kernel's CPU_SETSIZE.
constexpr int kMaxCpus = 1024;

// Pins the calling thread to `cpus` (count entries, each in 0..kMaxCpus-1).
// 0, -EINVAL (a CPU out of range, none allowed), or the kernel's -errno.
int32_t SetThreadAffinity(const int32_t* cpus, int count);
// Writes the CPUs the calling thread may run on, ascending, into out
// (capacity kMaxCpus). Returns how many, or -errno.
int32_t GetThreadAffinity(int32_t* out);

}  // namespace percore
