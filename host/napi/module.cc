// The module: its exports (the driver classes this build has, the layout's
// agreement table) and the functions that act on the calling thread or the
// whole process rather than on one driver.
#include <napi.h>

#include <cmath>
#include <cstring>

#include "layout.h"
#include "napi/args.h"
#include "napi/driver_factories.h"
#include "napi/driver_object.h"
#include "napi/errno_names.h"
#include "threads/affinity.h"
#include "threads/wakers.h"
#if PERCORE_HAVE_URING
#include "drivers/uring/uring.h"
#endif

namespace percore {

namespace {

#if PERCORE_HAVE_URING
// probeUring(): { ok, errno, code, reason, missing } from a trial ring (see
// UringProbe). Never throws for a kernel refusal: the runtime decides.
Napi::Value ProbeUringJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UringProbe probe;
  ProbeUring(&probe);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", Napi::Boolean::New(env, probe.error == 0));
  out.Set("errno", Napi::Number::New(env, -probe.error));
  out.Set("code", probe.error == 0 ? env.Null() : Napi::String::New(env, ErrnoName(probe.error)));
  out.Set("reason", probe.error == 0 ? env.Null() : Napi::String::New(env, probe.hint));
  out.Set("pbufRing", Napi::Boolean::New(env, probe.pbuf_ring));
  Napi::Array missing = Napi::Array::New(env);
  uint32_t count = 0;
  for (const char* p = probe.missing; *p != '\0';) {
    const char* end = std::strchr(p, ' ');
    const size_t len = end == nullptr ? std::strlen(p) : static_cast<size_t>(end - p);
    missing.Set(count++, Napi::String::New(env, p, len));
    p += len;
    if (*p == ' ') p++;
  }
  out.Set("missing", missing);
  out.Set("msgRing", Napi::Boolean::New(env, probe.msg_ring));
  return out;
}
#endif

// --- thread helpers (module functions: they act on the calling thread) -------

// setAffinity(cpus: number[]) -> 0 or -errno.
Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Napi::TypeError::New(env, "cpus must be an array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  const uint32_t n = list.Length();
  if (n == 0 || n > static_cast<uint32_t>(kMaxCpus)) return Napi::Number::New(env, -EINVAL);
  int32_t cpus[kMaxCpus];
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = list.Get(i);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d < kMaxCpus) || std::trunc(d) != d) return Napi::Number::New(env, -EINVAL);
    cpus[i] = static_cast<int32_t>(d);
  }
  return Napi::Number::New(env, SetThreadAffinity(cpus, static_cast<int>(n)));
}

// getAffinity() -> number[] (ascending) or -errno.
Napi::Value GetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t cpus[kMaxCpus];
  const int32_t n = GetThreadAffinity(cpus);
  if (n < 0) return Napi::Number::New(env, n);
  Napi::Array out = Napi::Array::New(env, static_cast<size_t>(n));
  for (int32_t i = 0; i < n; i++)
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, cpus[i]));
  return out;
}

// wake(token) -> 0 or -ESRCH (the waker is gone: its runtime closed).
Napi::Value WakeToken(const Napi::CallbackInfo& info) {
  int64_t token;
  if (!IntArg(info, 0, "token", kI32Min, kI32Max, &token)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), Wake(static_cast<int32_t>(token)));
}

// --- module -------------------------------------------------------------------

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array table = Napi::Array::New(env, layout::kLayoutTableLength);
  for (size_t i = 0; i < layout::kLayoutTableLength; i++) {
    table.Set(static_cast<uint32_t>(i), Napi::Number::New(env, layout::kLayoutTable[i]));
  }
  exports.Set("layoutTable", table);
  // Which driver classes this build has, by their option names.
  Napi::Array built = Napi::Array::New(env);
  uint32_t count = 0;
  exports.Set("setAffinity", Napi::Function::New(env, SetAffinity, "setAffinity"));
  exports.Set("getAffinity", Napi::Function::New(env, GetAffinity, "getAffinity"));
  exports.Set("wake", Napi::Function::New(env, WakeToken, "wake"));
#if PERCORE_HAVE_URING
  exports.Set("UringDriver", DriverObject::Define(env, "UringDriver", MakeUringDriver));
  exports.Set("probeUring", Napi::Function::New(env, ProbeUringJs, "probeUring"));
  built.Set(count++, Napi::String::New(env, "uring"));
#endif
#if PERCORE_HAVE_EPOLL
  exports.Set("EpollDriver", DriverObject::Define(env, "EpollDriver", MakeEpollDriver));
  built.Set(count++, Napi::String::New(env, "epoll"));
#endif
#if PERCORE_HAVE_KQUEUE
  exports.Set("KqueueDriver", DriverObject::Define(env, "KqueueDriver", MakeKqueueDriver));
  built.Set(count++, Napi::String::New(env, "kqueue"));
#endif
  exports.Set("drivers", built);
  return exports;
}

}  // namespace

}  // namespace percore

// NODE_API_MODULE pastes its second argument into a name: it must be plain.
static Napi::Object InitPercore(Napi::Env env, Napi::Object exports) {
  return percore::Init(env, exports);
}
NODE_API_MODULE(percore, InitPercore)
