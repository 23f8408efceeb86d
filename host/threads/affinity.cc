#include "threads/affinity.h"

#include <sched.h>

#include <cerrno>

namespace percore {

int32_t SetThreadAffinity(const int32_t* cpus, int count) {
  if (count <= 0) return -EINVAL;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < count; i++) {
    if (cpus[i] < 0 || cpus[i] >= kMaxCpus || cpus[i] >= CPU_SETSIZE) return -EINVAL;
    CPU_SET(cpus[i], &set);
  }
  // pid 0: the calling thread (a Linux thread is a task with its own mask).
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int32_t GetThreadAffinity(int32_t* out) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
  int32_t n = 0;
  for (int cpu = 0; cpu < kMaxCpus && cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &set)) out[n++] = cpu;
  }
  return n;
}

}  // namespace percore
