// The epoll backend (Linux): a Poller for readiness.h, nothing more. The
// epoll fd is also the wake fd: it is readable while events are pending, so
// the loop glue's uv_poll watches it directly. A timerfd in the same set
// carries the earliest TIMEOUT.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "drivers/readiness/readiness.h"

namespace percore {

namespace {

// epoll_event.data for the timerfd; every other registration carries its fd.
constexpr uint64_t kTimerTag = ~uint64_t{0};

class EpollPoller final : public Poller {
 public:
  ~EpollPoller() override {
    if (timer_fd_ >= 0) ::close(timer_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  // 0 or the errno.
  int Init() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return errno;
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) return errno;
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: read until it is drained
    ev.data.u64 = kTimerTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev) != 0) return errno;
    return 0;
  }

  const char* name() const override { return "epoll"; }
  int fd() const override { return epoll_fd_; }

  int Register(int fd) override {
    epoll_event ev{};
    // Both directions at once, edge-triggered: no epoll_ctl is needed again
    // for this fd, whatever its ops wait for. EPOLLRDHUP: a peer's FIN wakes
    // a waiting RECV (which then reads 0).
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = static_cast<uint64_t>(fd);
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
  }

  void Deregister(int fd) override {
    epoll_event ev{};  // non-null for kernels before 2.6.9
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
  }

  int Wait(ReadyEvent* out, int max, int timeout_ms) override {
    if (max > kMaxEvents) max = kMaxEvents;
    const int n = epoll_wait(epoll_fd_, events_, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
      const uint32_t e = events_[i].events;
      ReadyEvent& r = out[i];
      if (events_[i].data.u64 == kTimerTag) {
        uint64_t expirations;
        ssize_t got = ::read(timer_fd_, &expirations, sizeof expirations);
        (void)got;  // EAGAIN: already drained
        r = ReadyEvent{.timer = true};
        continue;
      }
      // Hang-up and error wake both queues: retrying the system call (or
      // SO_ERROR for a CONNECT) yields the real errno.
      r = ReadyEvent{.fd = static_cast<int>(events_[i].data.u64),
                     .readable = (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
                     .writable = (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0,
                     .hangup = (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0};
    }
    return n;
  }

  void ArmTimer(uint64_t deadline_ns) override {
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(deadline_ns / 1000000000u);
    its.it_value.tv_nsec = static_cast<long>(deadline_ns % 1000000000u);
    // Absolute: a deadline already past fires at once. It is never 0 (the
    // monotonic clock is past 0), which would disarm.
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  }

 private:
  static constexpr int kMaxEvents = 256;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  epoll_event events_[kMaxEvents];
};

}  // namespace

std::unique_ptr<Driver> CreateEpollDriver(const CoreMemory& memory, int* error) {
  auto poller = std::make_unique<EpollPoller>();
  const int init_error = poller->Init();
  return MakeReadinessDriver(memory, std::move(poller), init_error, {"edge_triggered", "timerfd"},
                             error);
}

}  // namespace percore
