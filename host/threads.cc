#include "threads.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <mutex>

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

namespace {

struct WakerSlot {
  int fd = -1;              // -1: free
  uint32_t generation = 0;  // bumped when the slot is freed
};

// Process-wide: the addon is loaded once per process and shared by every
// worker thread, so this table is the one place all threads agree on.
std::mutex waker_mutex;
WakerSlot wakers[kMaxWakers];

constexpr uint32_t kIndexMask = kMaxWakers - 1;
// Tokens are positive int32s: generations run 1..kMaxGeneration.
constexpr uint32_t kMaxGeneration = (1u << (31 - kWakerIndexBits)) - 1;

}  // namespace

int32_t CreateWaker(int* fd) {
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return -errno;
  std::lock_guard<std::mutex> lock(waker_mutex);
  for (uint32_t i = 0; i < kMaxWakers; i++) {
    WakerSlot& slot = wakers[i];
    if (slot.fd >= 0) continue;
    if (slot.generation == 0) slot.generation = 1;
    slot.fd = efd;
    *fd = efd;
    const int32_t token = static_cast<int32_t>(slot.generation << kWakerIndexBits | i);
    assert(token > 0);
    return token;
  }
  ::close(efd);
  return -ENOSPC;
}

void DestroyWaker(int32_t token) {
  if (token <= 0) return;
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(waker_mutex);
    WakerSlot& slot = wakers[static_cast<uint32_t>(token) & kIndexMask];
    if (slot.fd < 0 || slot.generation != static_cast<uint32_t>(token) >> kWakerIndexBits) return;
    fd = slot.fd;
    slot.fd = -1;
    slot.generation = slot.generation == kMaxGeneration ? 1 : slot.generation + 1;
  }
  // Outside the lock is safe: no Wake can find this fd any more.
  ::close(fd);
}

int32_t Wake(int32_t token) {
  if (token <= 0) return -ESRCH;
  std::lock_guard<std::mutex> lock(waker_mutex);
  const WakerSlot& slot = wakers[static_cast<uint32_t>(token) & kIndexMask];
  if (slot.fd < 0 || slot.generation != static_cast<uint32_t>(token) >> kWakerIndexBits) return -ESRCH;
  const uint64_t one = 1;
  // Non-blocking: EAGAIN would mean the counter is at its maximum, which a
  // drained-on-every-wake counter cannot reach; the owner is awake anyway.
  ssize_t r = ::write(slot.fd, &one, sizeof one);
  (void)r;
  return 0;
}

void DrainWaker(int fd) {
  uint64_t count;
  ssize_t r = ::read(fd, &count, sizeof count);  // EAGAIN: nothing pending
  (void)r;
}

int32_t AdoptSocket(FdTable& fds, int32_t fd) {
  if (fd < 0) return -EBADF;
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -errno;
  // Only stream sockets: TcpStream.adopt is the caller, and the readiness
  // drivers rely on every socket they own being a stream (a short RECV means
  // the queue is drained, which a datagram socket does not promise).
  if (type != SOCK_STREAM) return -EINVAL;
  if (fds.Contains(fd)) return -EEXIST;
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return -errno;
  const int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0) return -errno;
  return fds.Add(fd) ? 0 : -EMFILE;
}

}  // namespace percore
