// How each backend is built from the constructor's options: one factory per
// driver class the module exports (UringDriver, EpollDriver, KqueueDriver).
#pragma once

#include <napi.h>

#include <memory>

#include "core_memory.h"
#include "drivers/driver.h"

namespace percore {

// Returns null with a JS exception pending on failure.
using DriverFactory = std::unique_ptr<Driver> (*)(Napi::Env env, const CoreMemory& memory,
                                                  Napi::Object options);

#if PERCORE_HAVE_URING
std::unique_ptr<Driver> MakeUringDriver(Napi::Env env, const CoreMemory& memory,
                                        Napi::Object options);
#endif
#if PERCORE_HAVE_EPOLL
std::unique_ptr<Driver> MakeEpollDriver(Napi::Env env, const CoreMemory& memory,
                                        Napi::Object options);
#endif
#if PERCORE_HAVE_KQUEUE
std::unique_ptr<Driver> MakeKqueueDriver(Napi::Env env, const CoreMemory& memory,
                                         Napi::Object options);
#endif

}  // namespace percore
