#include "threads/wakers.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "check.h"

namespace percore {

namespace {

struct WakerSlot {
  int fd = -1;              // the eventfd; -1: free
  int ring_fd = -1;         // the registry's dup of the owner's io_uring fd, or -1
  uint32_t generation = 0;  // bumped when the slot is freed
};

// Process-wide: the addon is loaded once per process and shared by every
// worker thread, so this table is the one place all threads agree on.
//
// Why a MSG_RING can never reach the wrong ring: a MSG_RING SQE names its
// target by fd number, and the kernel turns that number into a file only when
// it consumes the SQE. Wake() therefore holds this mutex from the lookup
// through the prep AND the io_uring_enter that consumes the SQE
// (RingMessenger::PostWake), and DestroyWaker makes the slot stale under the
// same mutex before closing anything: so between lookup and consumption the
// number is open and is the target's ring. The ring fd in the slot is a dup
// the registry owns (closed only by DestroyWaker), so this holds whatever
// order the owner tears its driver down in. Once consumed, the kernel holds
// its own reference to the target ring, so a wake racing a close reaches a
// ring that is going away, never another one.
// The cost: one io_uring_enter per MSG_RING wake under the lock (a few
// microseconds), taken only when a peer is parked, like the eventfd write.
std::mutex waker_mutex;
WakerSlot wakers[kMaxWakers];

constexpr uint32_t kIndexMask = kMaxWakers - 1;
// Tokens are positive int32s: generations run 1..kMaxGeneration.
constexpr uint32_t kMaxGeneration = (1u << (31 - kWakerIndexBits)) - 1;

// The live slot of `token`, or null if the token is stale. Lock held.
WakerSlot* FindWaker(int32_t token) {
  if (token <= 0) return nullptr;
  WakerSlot& slot = wakers[static_cast<uint32_t>(token) & kIndexMask];
  if (slot.fd < 0 || slot.generation != static_cast<uint32_t>(token) >> kWakerIndexBits)
    return nullptr;
  return &slot;
}

}  // namespace

int32_t CreateWaker(int* fd, int ring_fd) {
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return -errno;
  int ring = -1;
  if (ring_fd >= 0) {
    ring = fcntl(ring_fd, F_DUPFD_CLOEXEC, 0);
    if (ring < 0) {
      const int err = errno;
      ::close(efd);
      return -err;
    }
  }
  std::lock_guard<std::mutex> lock(waker_mutex);
  for (uint32_t i = 0; i < kMaxWakers; i++) {
    WakerSlot& slot = wakers[i];
    if (slot.fd >= 0) continue;
    if (slot.generation == 0) slot.generation = 1;
    slot.fd = efd;
    slot.ring_fd = ring;
    *fd = efd;
    const int32_t token = static_cast<int32_t>(slot.generation << kWakerIndexBits | i);
    PERCORE_ASSERT(token > 0, "generations stop short of the sign bit (kMaxGeneration)");
    return token;
  }
  ::close(efd);
  if (ring >= 0) ::close(ring);
  return -ENOSPC;
}

void DestroyWaker(int32_t token) {
  int fd = -1;
  int ring = -1;
  {
    std::lock_guard<std::mutex> lock(waker_mutex);
    WakerSlot* slot = FindWaker(token);
    if (slot == nullptr) return;
    fd = slot->fd;
    ring = slot->ring_fd;
    slot->fd = slot->ring_fd = -1;
    slot->generation = slot->generation == kMaxGeneration ? 1 : slot->generation + 1;
  }
  // Outside the lock is safe: no Wake can find these fds any more, and every
  // MSG_RING that found the ring fd was consumed before we got the lock.
  ::close(fd);
  if (ring >= 0) ::close(ring);
}

int32_t Wake(int32_t token, RingMessenger* via, WakePath* path) {
  if (path != nullptr) *path = WakePath::kNone;
  std::lock_guard<std::mutex> lock(waker_mutex);
  const WakerSlot* slot = FindWaker(token);
  if (slot == nullptr) return -ESRCH;
  if (via != nullptr && slot->ring_fd >= 0 && via->PostWake(slot->ring_fd, token) == 0) {
    if (path != nullptr) *path = WakePath::kMsgRing;
    return 0;
  }
  const uint64_t one = 1;
  // Non-blocking: EAGAIN would mean the counter is at its maximum, which a
  // drained-on-every-wake counter cannot reach; the owner is awake anyway.
  ssize_t r = ::write(slot->fd, &one, sizeof one);
  (void)r;
  if (path != nullptr) *path = WakePath::kEventfd;
  return 0;
}

void DrainWaker(int fd) {
  uint64_t count;
  ssize_t r = ::read(fd, &count, sizeof count);  // EAGAIN: nothing pending
  (void)r;
}

}  // namespace percore
