// The kqueue backend (macOS and the BSDs): a Poller for readiness.h, nothing
// more. Built only there (host/CMakeLists.txt); NOT compiled or run by
// percore's CI, which is Linux-only. The kqueue fd is also the wake fd: it is
// readable while events are pending, so the loop glue's uv_poll watches it.
//
// EV_CLEAR gives the edge-triggered behaviour the readiness driver relies on (as
// EPOLLET does); EVFILT_TIMER (one-shot, NOTE_NSECONDS) carries the earliest
// TIMEOUT. Read and write filters arrive as separate events.
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>

#include "drivers/readiness/readiness.h"

namespace percore {

namespace {

constexpr uintptr_t kTimerIdent = 1;  // EVFILT_TIMER idents are their own space

class KqueuePoller final : public Poller {
 public:
  ~KqueuePoller() override {
    if (kq_ >= 0) ::close(kq_);
  }

  int Init() {
    kq_ = kqueue();
    if (kq_ < 0) return errno;
    // kqueue fds are not inherited across fork; close-on-exec for exec.
    fcntl(kq_, F_SETFD, FD_CLOEXEC);
    return 0;
  }

  const char* name() const override { return "kqueue"; }
  int fd() const override { return kq_; }

  int Register(int fd) override {
    struct kevent changes[2];
    EV_SET(&changes[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    EV_SET(&changes[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    return kevent(kq_, changes, 2, nullptr, 0, nullptr) == 0 ? 0 : -LinuxErrno(errno);
  }

  void Deregister(int fd) override {
    struct kevent changes[2];
    EV_SET(&changes[0], fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
    EV_SET(&changes[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
    kevent(kq_, changes, 2, nullptr, 0, nullptr);  // closing removes them anyway
  }

  int Wait(ReadyEvent* out, int max, int timeout_ms) override {
    if (max > kMaxEvents) max = kMaxEvents;
    timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000};
    const int n = kevent(kq_, nullptr, 0, events_, max, timeout_ms < 0 ? nullptr : &ts);
    if (n < 0) return errno == EINTR ? 0 : -LinuxErrno(errno);
    for (int i = 0; i < n; i++) {
      const struct kevent& e = events_[i];
      ReadyEvent& r = out[i];
      r = ReadyEvent{.fd = static_cast<int>(e.ident),
                     .hangup = (e.flags & (EV_EOF | EV_ERROR)) != 0};
      if (e.filter == EVFILT_TIMER) {
        r.fd = -1;
        r.timer = true;
      } else if (e.filter == EVFILT_READ) {
        r.readable = true;  // EV_EOF / EV_ERROR too: the retried call tells
      } else if (e.filter == EVFILT_WRITE) {
        r.writable = true;
      }
    }
    return n;
  }

  void ArmTimer(uint64_t deadline_ns) override {
    const uint64_t now = MonotonicNs();
    const int64_t delay = deadline_ns > now ? static_cast<int64_t>(deadline_ns - now) : 0;
    struct kevent change;
    EV_SET(&change, kTimerIdent, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS, delay, nullptr);
    kevent(kq_, &change, 1, nullptr, 0, nullptr);
  }

 private:
  static constexpr int kMaxEvents = 256;
  int kq_ = -1;
  struct kevent events_[kMaxEvents];
};

}  // namespace

std::unique_ptr<Driver> CreateKqueueDriver(const CoreMemory& memory, int* error) {
  auto poller = std::make_unique<KqueuePoller>();
  const int init_error = poller->Init();
  return MakeReadinessDriver(memory, std::move(poller), init_error, {"edge_triggered"}, error);
}

}  // namespace percore
