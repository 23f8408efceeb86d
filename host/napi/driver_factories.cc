#include "napi/driver_factories.h"

#include <cstring>
#include <string>

#include "napi/args.h"
#include "napi/errno_names.h"
#if PERCORE_HAVE_URING
#include "drivers/uring/uring.h"
#endif
#if PERCORE_HAVE_EPOLL || PERCORE_HAVE_KQUEUE
#include "drivers/readiness/readiness.h"
#endif

namespace percore {

namespace {

// "<what> setup failed (CODE): <detail>", with the errno's code and number
// (and the system call, when one is named) as properties, as Node's own
// system errors carry them.
[[maybe_unused]] void ThrowSetupError(Napi::Env env, const char* what, int error,
                                      const char* detail, const char* syscall) {
  Napi::Error e = Napi::Error::New(
      env, std::string(what) + " setup failed (" + ErrnoName(error) + "): " + detail);
  e.Set("code", Napi::String::New(env, ErrnoName(error)));
  e.Set("errno", Napi::Number::New(env, -error));
  if (syscall != nullptr) e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
}

#if PERCORE_HAVE_EPOLL || PERCORE_HAVE_KQUEUE
// A readiness driver has no kernel queue to size, but options.entries is
// still checked so the runtime can pass the same options to any driver.
template <std::unique_ptr<Driver> (*Create)(const CoreMemory&, int*)>
std::unique_ptr<Driver> MakeReadinessDriver(Napi::Env env, const CoreMemory& memory,
                                            Napi::Object options) {
  uint32_t unused_entries;
  if (!EntriesOption(env, options, &unused_entries)) return nullptr;
  int error = 0;
  std::unique_ptr<Driver> driver = Create(memory, &error);
  if (!driver) ThrowSetupError(env, "readiness driver", error, std::strerror(error), nullptr);
  return driver;
}
#endif

}  // namespace

#if PERCORE_HAVE_URING
std::unique_ptr<Driver> MakeUringDriver(Napi::Env env, const CoreMemory& memory,
                                        Napi::Object options) {
  UringOptions uring;
  if (!EntriesOption(env, options, &uring.sq_entries) ||
      !BoolOption(env, options, "msgRing", &uring.msg_ring) ||
      !BoolOption(env, options, "pbufRing", &uring.pbuf_ring)) {
    return nullptr;
  }
  UringSetupError error;
  std::unique_ptr<Driver> driver = CreateUringDriver(memory, uring, &error);
  if (!driver) ThrowSetupError(env, "io_uring", error.error, error.hint, "io_uring_setup");
  return driver;
}
#endif

#if PERCORE_HAVE_EPOLL
std::unique_ptr<Driver> MakeEpollDriver(Napi::Env env, const CoreMemory& memory,
                                        Napi::Object options) {
  return MakeReadinessDriver<CreateEpollDriver>(env, memory, options);
}
#endif

#if PERCORE_HAVE_KQUEUE
std::unique_ptr<Driver> MakeKqueueDriver(Napi::Env env, const CoreMemory& memory,
                                         Napi::Object options) {
  return MakeReadinessDriver<CreateKqueueDriver>(env, memory, options);
}
#endif

}  // namespace percore
