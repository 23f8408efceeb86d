// The JavaScript driver classes (UringDriver, EpollDriver, KqueueDriver):
// one Node-API class over the Driver interface, plus the libuv handles that
// wake it. Its methods are in driver_object.cc; the event-loop glue (the
// turn, its timer, teardown) in turn.cc.
//
// The module keeps no global state: each driver owns its handles and its
// references, so one driver per worker thread needs nothing more.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>

#include "drivers/driver.h"
#include "napi/driver_factories.h"

namespace percore {

class DriverObject;

// The libuv handles live in their own heap block: their close callbacks run
// on a later loop iteration, possibly after the JS object was collected.
struct LoopHandles {
  uv_poll_t poll;
  uv_timer_t timer;
  // A turn due at once runs from this idle handle: once per loop iteration,
  // with Node's timers, I/O and immediates between. A 0 ms uv_timer would
  // not do: libuv (1.46, Node 20) runs a timer re-armed for 0 from its own
  // callback again within the same timers phase, so a driver with a turn
  // always due (a relay whose sends complete at once) starved the loop.
  uv_idle_t idle;
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
  static Napi::Function Define(Napi::Env env, const char* name, DriverFactory factory);
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
  Napi::Value GetOption(const Napi::CallbackInfo& info);
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
  // Unix-domain sockets (driver_unix.cc).
  Napi::Value BindUnix(const Napi::CallbackInfo& info);
  Napi::Value ConnectUnix(const Napi::CallbackInfo& info);
  Napi::Value UnixLocalName(const Napi::CallbackInfo& info);
  Napi::Value UnixPeerName(const Napi::CallbackInfo& info);
  Napi::Value PeerCredentials(const Napi::CallbackInfo& info);
  Napi::Value StageName(const Napi::CallbackInfo& info);
  Napi::Value MsgName(const Napi::CallbackInfo& info);
  Napi::Value StageFds(const Napi::CallbackInfo& info);
  Napi::Value MsgFds(const Napi::CallbackInfo& info);
  Napi::Value Membership(const Napi::CallbackInfo& info);
  Napi::Value RecordAddressOf(const Napi::CallbackInfo& info);

  Napi::Value AddressOf(const Napi::CallbackInfo& info, bool peer);
  Napi::Value UnixNameOf(const Napi::CallbackInfo& info, bool peer);
  bool StartLoop(Napi::Env env);
  void Turn(bool forced);
  void ScheduleTurn();
  void ArmTimer(double wait_ms);
  void CallOnWake();
  void CloseAll();
  bool MemoryDetached(Napi::Env env);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnIdle(uv_idle_t* handle);
  static void OnWaker(uv_poll_t* handle, int status, int events);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg);

  std::unique_ptr<Driver> driver_;
  LoopHandles* handles_ = nullptr;
  Napi::FunctionReference on_turn_;
  Napi::FunctionReference on_wake_;
  Napi::Reference<Napi::Uint8Array> memory_ref_;  // keeps the core's memory alive
  // The view's buffer when it is a plain (non-shared) ArrayBuffer, which only
  // a WebAssembly.Memory grow can detach (see CheckMemory); empty for a
  // SharedArrayBuffer, which nothing can detach.
  Napi::Reference<Napi::Value> detachable_ref_;
  napi_async_context async_context_ = nullptr;
  bool ref_ = false;             // handles start unref'd: an idle driver keeps nothing alive
  bool turn_requested_ = false;  // the idle handle is started: a turn is due
  bool closed_ = false;
  // While onTurn (and the microtasks after it) runs, arm() only records the
  // shortest wait asked for: onTurn's own answer was computed before those
  // microtasks started timers, so the two are combined when it returns.
  bool in_turn_ = false;
  double armed_in_turn_ = -1;
};

// The shorter of two waits, where a negative wait means "none".
inline double ShorterWait(double a, double b) {
  if (!(a >= 0)) return b;
  if (!(b >= 0)) return a;
  return a < b ? a : b;
}

}  // namespace percore
