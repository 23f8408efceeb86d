// The Node-API surface (docs/ARCHITECTURE.md, "The host's exports") and the
// event-loop wiring: one uv_poll_t on the driver's wake fd and one uv_timer_t
// for the wait onTurn asks for, both on the loop of the thread that created
// the driver.
//
// A turn: drain the wake fd, submit, collect completions into the core's CQ,
// call onTurn through MakeCallback (microtasks run when it returns), flush
// what onTurn queued, then arm the timer from onTurn's answer. JS is called
// only from a turn, never from flush().
//
// The module keeps no global state: each driver owns its handles and its
// references, so one driver per worker thread needs nothing more.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "driver.h"
#include "layout.h"
#include "sockets.h"
#include "threads.h"
#if PERCORE_HAVE_URING
#include "uring_driver.h"
#endif
#if PERCORE_HAVE_EPOLL || PERCORE_HAVE_KQUEUE
#include "readiness.h"
#endif

namespace percore {

namespace {

const char* ErrnoName(int error) {
  switch (error) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENODEV: return "ENODEV";
    default: return "EIO";
  }
}

void ThrowWithCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

// Reads info[i] as an integer in [lo, hi]; throws a TypeError / RangeError
// naming `what` and returns false otherwise.
bool IntArg(const Napi::CallbackInfo& info, size_t i, const char* what,
            double lo, double hi, int64_t* out) {
  Napi::Env env = info.Env();
  if (!info[i].IsNumber()) {
    Napi::TypeError::New(env, std::string(what) + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= lo && v <= hi) || std::trunc(v) != v) {
    Napi::RangeError::New(env, std::string(what) + " must be an integer in range")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

constexpr double kI32Min = -2147483648.0;
constexpr double kI32Max = 2147483647.0;
constexpr double kU32Max = 4294967295.0;

// How a backend is built from the constructor's options. Returns null with
// a JS exception pending on failure.
using DriverFactory = std::unique_ptr<Driver> (*)(Napi::Env env,
                                                  const CoreMemory& memory,
                                                  Napi::Object options);

#if PERCORE_HAVE_URING
// options[name], when given, into *out; false (a TypeError thrown) when it is
// not a boolean.
bool BoolOption(Napi::Env env, Napi::Object options, const char* name, bool* out) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return true;
  if (!value.IsBoolean()) {
    Napi::TypeError::New(env, std::string("options.") + name + " must be a boolean")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = value.As<Napi::Boolean>().Value();
  return true;
}

std::unique_ptr<Driver> MakeUringDriver(Napi::Env env, const CoreMemory& memory,
                                        Napi::Object options) {
  UringOptions uring;
  Napi::Value entries = options.Get("entries");
  if (!entries.IsUndefined()) {
    const double v = entries.IsNumber() ? entries.As<Napi::Number>().DoubleValue() : NAN;
    if (!(v >= 1 && v <= 32768) || std::trunc(v) != v) {
      Napi::RangeError::New(env, "options.entries must be an integer in 1..32768")
          .ThrowAsJavaScriptException();
      return nullptr;
    }
    uring.sq_entries = static_cast<uint32_t>(v);
  }
  if (!BoolOption(env, options, "msgRing", &uring.msg_ring) ||
      !BoolOption(env, options, "pbufRing", &uring.pbuf_ring)) {
    return nullptr;
  }
  UringSetupError error;
  std::unique_ptr<Driver> driver = CreateUringDriver(memory, uring, &error);
  if (!driver) {
    Napi::Error e = Napi::Error::New(
        env, std::string("io_uring setup failed (") + ErrnoName(error.error) +
                 "): " + error.hint);
    e.Set("code", Napi::String::New(env, ErrnoName(error.error)));
    e.Set("errno", Napi::Number::New(env, -error.error));
    e.Set("syscall", Napi::String::New(env, "io_uring_setup"));
    e.ThrowAsJavaScriptException();
  }
  return driver;
}
#endif

#if PERCORE_HAVE_EPOLL || PERCORE_HAVE_KQUEUE
// options.entries sizes io_uring's SQ; a readiness driver has no kernel
// queue, but the option is checked alike so the runtime can pass it to either.
bool CheckEntriesOption(Napi::Env env, Napi::Object options) {
  Napi::Value entries = options.Get("entries");
  if (entries.IsUndefined()) return true;
  const double v = entries.IsNumber() ? entries.As<Napi::Number>().DoubleValue() : NAN;
  if (!(v >= 1 && v <= 32768) || std::trunc(v) != v) {
    Napi::RangeError::New(env, "options.entries must be an integer in 1..32768")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

template <std::unique_ptr<Driver> (*Create)(const CoreMemory&, int*)>
std::unique_ptr<Driver> MakeReadinessDriver(Napi::Env env, const CoreMemory& memory,
                                            Napi::Object options) {
  if (!CheckEntriesOption(env, options)) return nullptr;
  int error = 0;
  std::unique_ptr<Driver> driver = Create(memory, &error);
  if (!driver) {
    Napi::Error e = Napi::Error::New(
        env, std::string("readiness driver setup failed (") + ErrnoName(error) +
                 "): " + std::strerror(error));
    e.Set("code", Napi::String::New(env, ErrnoName(error)));
    e.Set("errno", Napi::Number::New(env, -error));
    e.ThrowAsJavaScriptException();
  }
  return driver;
}
#endif

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

class DriverObject;

// The libuv handles live in their own heap block: their close callbacks run
// on a later loop iteration, possibly after the JS object was collected.
struct LoopHandles {
  uv_poll_t poll;
  uv_timer_t timer;
  DriverObject* owner;  // null once the owner closed
  int open;             // handles whose close callback has not run
  // The cross-thread waker (createWaker), made on first use: an eventfd in
  // the process-wide registry, watched here. token 0: none.
  uv_poll_t waker;
  int32_t waker_token;
  // Lets Node wait for the close callbacks at environment teardown (a
  // worker's loop must hold no handle when it is closed).
  napi_async_cleanup_hook_handle cleanup;
};

class DriverObject : public Napi::ObjectWrap<DriverObject> {
 public:
  static Napi::Function Define(Napi::Env env, const char* name,
                               DriverFactory factory);
  explicit DriverObject(const Napi::CallbackInfo& info);
  ~DriverObject() override { CloseAll(); }

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value Arm(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Socket(const Napi::CallbackInfo& info);
  Napi::Value Pipe(const Napi::CallbackInfo& info);
  Napi::Value SetOption(const Napi::CallbackInfo& info);
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value EncodeAddress(const Napi::CallbackInfo& info);
  Napi::Value LocalAddress(const Napi::CallbackInfo& info);
  Napi::Value PeerAddress(const Napi::CallbackInfo& info);
  Napi::Value CloseFd(const Napi::CallbackInfo& info);
  Napi::Value CreateWaker(const Napi::CallbackInfo& info);
  Napi::Value WakePeer(const Napi::CallbackInfo& info);
  Napi::Value ForgetFd(const Napi::CallbackInfo& info);
  Napi::Value AdoptFd(const Napi::CallbackInfo& info);

  Napi::Value AddressOf(const Napi::CallbackInfo& info, bool peer);
  bool StartLoop(Napi::Env env);
  void Turn(bool forced);
  void ScheduleTurn();
  void ArmTimer(double wait_ms);
  void CallOnWake();
  void CloseAll();

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnWaker(uv_poll_t* handle, int status, int events);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg);

  std::unique_ptr<Driver> driver_;
  LoopHandles* handles_ = nullptr;
  Napi::FunctionReference on_turn_;
  Napi::FunctionReference on_wake_;
  Napi::Reference<Napi::Uint8Array> memory_ref_;  // keeps the core's memory alive
  napi_async_context async_context_ = nullptr;
  bool ref_ = false;             // handles start unref'd: an idle driver keeps nothing alive
  bool turn_requested_ = false;  // the timer is armed for 0: a turn is due
  bool closed_ = false;
  // While onTurn (and the microtasks after it) runs, arm() only records the
  // shortest wait asked for: onTurn's own answer was computed before those
  // microtasks started timers, so the two are combined when it returns.
  bool in_turn_ = false;
  double armed_in_turn_ = -1;
};

namespace {
// The shorter of two waits, where a negative wait means "none".
double ShorterWait(double a, double b) {
  if (!(a >= 0)) return b;
  if (!(b >= 0)) return a;
  return a < b ? a : b;
}
}  // namespace

Napi::Function DriverObject::Define(Napi::Env env, const char* name,
                                    DriverFactory factory) {
  return DefineClass(
      env, name,
      {
          InstanceAccessor<&DriverObject::Name>("name"),
          InstanceMethod<&DriverObject::Flush>("flush"),
          InstanceMethod<&DriverObject::Poll>("poll"),
          InstanceMethod<&DriverObject::SetRef>("setRef"),
          InstanceMethod<&DriverObject::Arm>("arm"),
          InstanceMethod<&DriverObject::Counters>("counters"),
          InstanceMethod<&DriverObject::Close>("close"),
          InstanceMethod<&DriverObject::Socket>("socket"),
          InstanceMethod<&DriverObject::Pipe>("pipe"),
          InstanceMethod<&DriverObject::SetOption>("setOption"),
          InstanceMethod<&DriverObject::Bind>("bind"),
          InstanceMethod<&DriverObject::Listen>("listen"),
          InstanceMethod<&DriverObject::EncodeAddress>("encodeAddress"),
          InstanceMethod<&DriverObject::LocalAddress>("localAddress"),
          InstanceMethod<&DriverObject::PeerAddress>("peerAddress"),
          InstanceMethod<&DriverObject::CloseFd>("closeFd"),
          InstanceMethod<&DriverObject::CreateWaker>("createWaker"),
          InstanceMethod<&DriverObject::WakePeer>("wake"),
          InstanceMethod<&DriverObject::ForgetFd>("forgetFd"),
          InstanceMethod<&DriverObject::AdoptFd>("adoptFd"),
      },
      reinterpret_cast<void*>(factory));
}

DriverObject::DriverObject(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<DriverObject>(info) {
  Napi::Env env = info.Env();
  // new UringDriver(memory: Uint8Array, header: number, options: {entries?, onTurn})
  if (!info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "memory must be a Uint8Array over the core's memory")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Uint8Array memory = info[0].As<Napi::Uint8Array>();
  if (memory.ByteOffset() != 0) {
    Napi::TypeError::New(env, "memory must view the core's memory from byte 0")
        .ThrowAsJavaScriptException();
    return;
  }
  int64_t header;
  if (!IntArg(info, 1, "header", 0, kU32Max, &header)) return;
  if (!info[2].IsObject() || !info[2].As<Napi::Object>().Get("onTurn").IsFunction()) {
    Napi::TypeError::New(env, "options.onTurn must be a function")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Object options = info[2].As<Napi::Object>();

  // Offsets are u32: a 4 GiB memory is addressed through its first 4 GiB - 1.
  const size_t length = memory.ByteLength();
  const uint32_t size = length > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(length);
  CoreMemory core;
  char message[256];
  if (core.Attach(memory.Data(), size, static_cast<uint32_t>(header), message,
                  sizeof message) != AttachError::kNone) {
    ThrowWithCode(env, "ERR_PERCORE_LAYOUT_MISMATCH", message);
    return;
  }
  auto factory = reinterpret_cast<DriverFactory>(info.Data());
  driver_ = factory(env, core, options);
  if (!driver_) return;

  memory_ref_ = Napi::Persistent(memory);
  on_turn_ = Napi::Persistent(options.Get("onTurn").As<Napi::Function>());
  if (napi_async_init(env, nullptr, Napi::String::New(env, "percore.turn"),
                      &async_context_) != napi_ok) {
    async_context_ = nullptr;
  }
  if (!StartLoop(env)) return;

  const FeatureList& features = driver_->features();
  Napi::Array list = Napi::Array::New(env, features.count);
  for (int i = 0; i < features.count; i++) {
    list.Set(static_cast<uint32_t>(i), Napi::String::New(env, features.names[i]));
  }
  info.This().As<Napi::Object>().DefineProperty(
      Napi::PropertyDescriptor::Value("features", list, napi_enumerable));
}

bool DriverObject::StartLoop(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, "no libuv loop on this thread").ThrowAsJavaScriptException();
    return false;
  }
  handles_ = new LoopHandles{};
  handles_->owner = this;
  handles_->poll.data = handles_;
  handles_->timer.data = handles_;
  int r = uv_poll_init(loop, &handles_->poll, driver_->wake_fd());
  if (r != 0) {
    delete handles_;
    handles_ = nullptr;
    ThrowWithCode(env, uv_err_name(r), std::string("uv_poll_init: ") + uv_strerror(r));
    return false;
  }
  uv_timer_init(loop, &handles_->timer);
  handles_->open = 2;
  uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->timer));
  napi_add_async_cleanup_hook(env, OnEnvCleanup, handles_, &handles_->cleanup);
  return true;
}

// --- the turn -----------------------------------------------------------------

void DriverObject::OnPoll(uv_poll_t* handle, int /*status*/, int /*events*/) {
  // An error status (rare for an eventfd) is handled the same way: a turn
  // finds out what is really there.
  auto* h = static_cast<LoopHandles*>(handle->data);
  if (h->owner == nullptr) return;
  h->owner->driver_->counters().wakeups++;
  h->owner->Turn(false);
}

void DriverObject::OnTimer(uv_timer_t* handle) {
  auto* h = static_cast<LoopHandles*>(handle->data);
  if (h->owner != nullptr) h->owner->Turn(true);
}

// Another thread woke this runtime through its eventfd (a channel has news).
void DriverObject::OnWaker(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* h = static_cast<LoopHandles*>(handle->data);
  DriverObject* self = h->owner;
  if (self == nullptr || self->closed_) return;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle), &fd) == 0) DrainWaker(fd);
  self->CallOnWake();
}

// Calls onWake, from the loop and outside any turn (OnWaker, or the end of a
// turn that reaped MSG_RING wakes): like a turn, through MakeCallback so
// microtasks run after it; what they submit is flushed by the runtime's own
// microtask, and a timer they start arms the driver directly.
void DriverObject::CallOnWake() {
  if (closed_ || on_wake_.IsEmpty()) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object receiver = Value();
  napi_value result = nullptr;
  const napi_status status = napi_make_callback(
      env, async_context_, receiver.IsEmpty() ? env.Global() : receiver,
      on_wake_.Value(), 0, nullptr, &result);
  if (status == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

void DriverObject::Turn(bool forced) {
  if (closed_) return;
  turn_requested_ = false;
  const uint32_t written = driver_->Wake();
  // MSG_RING wakes from other threads came in this batch as CQEs the driver
  // kept from the core: onWake runs once, after the turn (never from inside
  // the reap or onTurn), as it would from the eventfd.
  const bool woken = driver_->TakeRingWakes() > 0;
  // A wake-up that found nothing (poll() took it first) is not worth a call
  // into JS; timers and requested turns always call.
  if (!forced && written == 0 && driver_->memory().CqEmpty()) {
    if (driver_->CompletionsPending()) ScheduleTurn();
    if (woken) CallOnWake();
    return;
  }

  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // napi_make_callback wants an object receiver: the driver itself. The
  // wrapper's reference is weak, so fall back to the global object in the
  // window between collection and finalization.
  Napi::Object self = Value();
  napi_value receiver = self.IsEmpty() ? env.Global() : self;
  napi_value result = nullptr;
  in_turn_ = true;
  armed_in_turn_ = -1;
  const napi_status status = napi_make_callback(
      env, async_context_, receiver, on_turn_.Value(), 0, nullptr, &result);
  in_turn_ = false;
  if (status == napi_pending_exception) {
    // An exception in onTurn is the program's: report it like any callback
    // from the loop would (process 'uncaughtException').
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  if (closed_) return;  // onTurn closed the driver

  double wait = -1;
  if (status == napi_ok && result != nullptr) {
    Napi::Value value(env, result);
    if (value.IsNumber()) wait = value.As<Napi::Number>().DoubleValue();
  }
  wait = ShorterWait(wait, armed_in_turn_);
  driver_->Flush();
  if (turn_requested_ || driver_->CompletionsPending()) wait = 0;
  ArmTimer(wait);
  if (woken) CallOnWake();
}

void DriverObject::ScheduleTurn() {
  if (closed_ || turn_requested_) return;
  turn_requested_ = true;
  uv_timer_start(&handles_->timer, OnTimer, 0, 0);
}

void DriverObject::ArmTimer(double wait_ms) {
  // A requested turn is never postponed: it re-arms from onTurn's answer.
  if (wait_ms == 0 || turn_requested_) {
    ScheduleTurn();
  } else if (wait_ms > 0) {  // NaN and negatives: no timer
    // Round up: waking early would only cost a turn that finds nothing due.
    const double ms = std::ceil(wait_ms);
    uv_timer_start(&handles_->timer, OnTimer,
                   ms > 2147483647.0 ? 2147483647u : static_cast<uint64_t>(ms), 0);
  } else {
    uv_timer_stop(&handles_->timer);
  }
}

// --- teardown -----------------------------------------------------------------

void DriverObject::CloseAll() {
  if (closed_) return;
  closed_ = true;
  if (handles_ != nullptr) {
    handles_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->timer), OnHandleClosed);
    if (handles_->waker_token != 0) {
      // Stale first, so no thread writes to the eventfd once it is closed;
      // DestroyWaker closes it, which libuv allows once its handle is closing.
      uv_close(reinterpret_cast<uv_handle_t*>(&handles_->waker), OnHandleClosed);
      DestroyWaker(handles_->waker_token);
      handles_->waker_token = 0;
    }
    handles_ = nullptr;
  }
  // After uv_close: libuv allows closing a polled fd once its handle is closing.
  if (driver_) driver_->Close();
  on_turn_.Reset();
  on_wake_.Reset();
  memory_ref_.Reset();
  if (async_context_ != nullptr) {
    napi_async_destroy(Env(), async_context_);
    async_context_ = nullptr;
  }
}

void DriverObject::OnHandleClosed(uv_handle_t* handle) {
  auto* h = static_cast<LoopHandles*>(handle->data);
  if (--h->open > 0) return;
  // Unregisters the hook, or tells Node it finished if teardown started it.
  if (h->cleanup != nullptr) napi_remove_async_cleanup_hook(h->cleanup);
  delete h;
}

void DriverObject::OnEnvCleanup(napi_async_cleanup_hook_handle /*hook*/, void* arg) {
  auto* h = static_cast<LoopHandles*>(arg);
  // Otherwise close() already ran and its close callbacks will finish.
  if (h->owner != nullptr) h->owner->CloseAll();
}

// --- JS methods -------------------------------------------------------------

Napi::Value DriverObject::Name(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), driver_ ? driver_->name() : "");
}

Napi::Value DriverObject::Flush(const Napi::CallbackInfo& info) {
  if (closed_) return Napi::Number::New(info.Env(), 0);
  const uint32_t taken = driver_->Flush();
  if (driver_->CompletionsPending()) ScheduleTurn();
  return Napi::Number::New(info.Env(), taken);
}

Napi::Value DriverObject::Poll(const Napi::CallbackInfo& info) {
  int64_t wait = 0;
  if (!info[0].IsUndefined() && !IntArg(info, 0, "waitMs", -1, kI32Max, &wait)) {
    return info.Env().Undefined();
  }
  if (closed_) return Napi::Number::New(info.Env(), 0);
  const uint32_t written = driver_->Poll(static_cast<int32_t>(wait));
  // poll() never calls JS: MSG_RING wakes it reaped are for the next turn.
  if (driver_->RingWakesPending()) ScheduleTurn();
  return Napi::Number::New(info.Env(), written);
}

Napi::Value DriverObject::SetRef(const Napi::CallbackInfo& info) {
  const bool ref = info[0].ToBoolean().Value();
  if (!closed_ && ref != ref_) {
    ref_ = ref;
    auto* poll = reinterpret_cast<uv_handle_t*>(&handles_->poll);
    auto* timer = reinterpret_cast<uv_handle_t*>(&handles_->timer);
    if (ref) {
      uv_ref(poll);
      uv_ref(timer);
    } else {
      uv_unref(poll);
      uv_unref(timer);
    }
  }
  return info.Env().Undefined();
}

// arm(waitMs): the same as onTurn returning waitMs, for a wait that changed
// outside a turn (a core timer started from plain JS).
Napi::Value DriverObject::Arm(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "waitMs must be a number").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  const double wait = info[0].As<Napi::Number>().DoubleValue();
  if (closed_) return info.Env().Undefined();
  if (in_turn_) {
    armed_in_turn_ = ShorterWait(armed_in_turn_, wait);
  } else {
    ArmTimer(wait);
  }
  return info.Env().Undefined();
}

Napi::Value DriverObject::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverCounters& c = driver_->counters();
  Napi::Object out = Napi::Object::New(env);
  out.Set("enters", Napi::Number::New(env, static_cast<double>(c.enters)));
  out.Set("submitted", Napi::Number::New(env, static_cast<double>(c.submitted)));
  out.Set("completed", Napi::Number::New(env, static_cast<double>(c.completed)));
  out.Set("openFds", Napi::Number::New(env, driver_->fds().count()));
  out.Set("wakeups", Napi::Number::New(env, static_cast<double>(c.wakeups)));
  out.Set("eagain", Napi::Number::New(env, static_cast<double>(c.eagain)));
  out.Set("wakesMsgRing", Napi::Number::New(env, static_cast<double>(c.wakes_msg_ring)));
  out.Set("wakesEventfd", Napi::Number::New(env, static_cast<double>(c.wakes_eventfd)));
  out.Set("ringWakes", Napi::Number::New(env, static_cast<double>(c.ring_wakes)));
  return out;
}

Napi::Value DriverObject::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

// The helpers below answer -EBADF once the driver is closed: it owns no fd
// any more, and one created now would never be closed by it.
Napi::Value DriverObject::Socket(const Napi::CallbackInfo& info) {
  int64_t family;
  if (!IntArg(info, 0, "family", kI32Min, kI32Max, &family)) return info.Env().Undefined();
  const int32_t r = closed_ ? -EBADF : OpenSocket(driver_->fds(), static_cast<int32_t>(family));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fds[2];
  const int32_t r = closed_ ? -EBADF : OpenPipe(driver_->fds(), fds);
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

Napi::Value DriverObject::SetOption(const Napi::CallbackInfo& info) {
  int64_t fd, option, value;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd) ||
      !IntArg(info, 1, "option", 0, kU32Max, &option) ||
      !IntArg(info, 2, "value", kI32Min, kI32Max, &value)) {
    return info.Env().Undefined();
  }
  const int32_t r = closed_ ? -EBADF
                            : SetSocketOption(driver_->fds(), static_cast<int32_t>(fd),
                                              static_cast<uint32_t>(option),
                                              static_cast<int32_t>(value));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::Bind(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return info.Env().Undefined();
  const int32_t r = closed_ ? -EBADF
                            : BindStaging(driver_->fds(), driver_->memory(),
                                          static_cast<int32_t>(fd));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::Listen(const Napi::CallbackInfo& info) {
  int64_t fd, backlog;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd) ||
      !IntArg(info, 1, "backlog", kI32Min, kI32Max, &backlog)) {
    return info.Env().Undefined();
  }
  const int32_t r = closed_ ? -EBADF
                            : percore::Listen(driver_->fds(), static_cast<int32_t>(fd),
                                              static_cast<int32_t>(backlog));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::EncodeAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Napi::TypeError::New(env, "ip must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t port, offset;
  if (!IntArg(info, 1, "port", kI32Min, kI32Max, &port) ||
      !IntArg(info, 2, "offset", 0, kU32Max, &offset)) {
    return env.Undefined();
  }
  const std::string ip = info[0].As<Napi::String>().Utf8Value();
  if (closed_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(
      env, percore::EncodeAddress(driver_->memory(), ip.c_str(), port,
                                  static_cast<uint32_t>(offset)));
}

Napi::Value DriverObject::AddressOf(const Napi::CallbackInfo& info, bool peer) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return env.Undefined();
  AddressText text;
  const int32_t r = closed_ ? -EBADF
                            : SocketAddress(driver_->fds(), static_cast<int32_t>(fd),
                                            peer, &text);
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Object out = Napi::Object::New(env);
  out.Set("address", Napi::String::New(env, text.address));
  out.Set("family", Napi::String::New(env, text.family == 4 ? "IPv4" : "IPv6"));
  out.Set("port", Napi::Number::New(env, text.port));
  return out;
}

Napi::Value DriverObject::LocalAddress(const Napi::CallbackInfo& info) {
  return AddressOf(info, false);
}

Napi::Value DriverObject::PeerAddress(const Napi::CallbackInfo& info) {
  return AddressOf(info, true);
}

Napi::Value DriverObject::CloseFd(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return info.Env().Undefined();
  if (closed_) return Napi::Number::New(info.Env(), -EBADF);
  // A readiness driver completes the ops waiting on fd (-ECANCELED) first;
  // those CQEs are delivered by a turn, never from inside this call.
  driver_->FdClosing(static_cast<int32_t>(fd));
  const int32_t r = CloseOwnedFd(driver_->fds(), static_cast<int32_t>(fd));
  if (driver_->CompletionsPending()) ScheduleTurn();
  return Napi::Number::New(info.Env(), r);
}

// createWaker(onWake) -> token (> 0) or -errno. One per driver: the token is
// what other threads pass to wake(); onWake runs on this thread's loop. An
// io_uring driver with MSG_RING registers its ring too: other io_uring
// threads then wake it with a CQE in that ring instead of the eventfd.
Napi::Value DriverObject::CreateWaker(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) {
    Napi::TypeError::New(env, "onWake must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (closed_) return Napi::Number::New(env, -EBADF);
  if (handles_->waker_token != 0) return Napi::Number::New(env, -EEXIST);
  int fd = -1;
  const int32_t token = percore::CreateWaker(&fd, driver_->wake_ring_fd());
  if (token < 0) return Napi::Number::New(env, token);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, &handles_->waker, fd);
  if (r != 0) {
    DestroyWaker(token);
    return Napi::Number::New(env, -EIO);
  }
  handles_->waker.data = handles_;
  handles_->waker_token = token;
  handles_->open++;
  on_wake_ = Napi::Persistent(info[0].As<Napi::Function>());
  uv_poll_start(&handles_->waker, UV_READABLE, OnWaker);
  // Never keeps the loop alive by itself: the runtime refs its own handles
  // while a channel operation waits.
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->waker));
  return Napi::Number::New(env, token);
}

// wake(token) -> 0 or -ESRCH: the module's wake(), sent from this thread's
// driver, so that an io_uring thread can use its own ring (a ring takes
// submissions from its thread only) to post a MSG_RING to an io_uring target.
Napi::Value DriverObject::WakePeer(const Napi::CallbackInfo& info) {
  int64_t token;
  if (!IntArg(info, 0, "token", kI32Min, kI32Max, &token)) return info.Env().Undefined();
  WakePath path;
  const int32_t r = Wake(static_cast<int32_t>(token), closed_ ? nullptr : driver_->messenger(), &path);
  DriverCounters& c = driver_->counters();
  if (path == WakePath::kMsgRing) c.wakes_msg_ring++;
  if (path == WakePath::kEventfd) c.wakes_eventfd++;
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::ForgetFd(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return info.Env().Undefined();
  const int32_t r = closed_ ? -EBADF : driver_->Forget(static_cast<int32_t>(fd));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::AdoptFd(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return info.Env().Undefined();
  const int32_t r = closed_ ? -EBADF : driver_->Adopt(static_cast<int32_t>(fd));
  return Napi::Number::New(info.Env(), r);
}

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
  for (int32_t i = 0; i < n; i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, cpus[i]));
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
  exports.Set("EpollDriver", DriverObject::Define(env, "EpollDriver",
                                                  MakeReadinessDriver<CreateEpollDriver>));
  built.Set(count++, Napi::String::New(env, "epoll"));
#endif
#if PERCORE_HAVE_KQUEUE
  exports.Set("KqueueDriver", DriverObject::Define(env, "KqueueDriver",
                                                   MakeReadinessDriver<CreateKqueueDriver>));
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
