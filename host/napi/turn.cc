// The event-loop wiring of a driver object: one uv_poll_t on the driver's
// wake fd and one uv_timer_t for the wait onTurn asks for, both on the loop
// of the thread that created the driver.
//
// A turn: drain the wake fd, submit, collect completions into the core's CQ,
// call onTurn through MakeCallback (microtasks run when it returns), flush
// what onTurn queued, then arm the timer from onTurn's answer. JS is called
// only from a turn, never from flush().
#include <cmath>
#include <string>

#include "check.h"
#include "napi/args.h"
#include "napi/driver_object.h"
#include "threads/wakers.h"

namespace percore {

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
  handles_->idle.data = handles_;
  int r = uv_poll_init(loop, &handles_->poll, driver_->wake_fd());
  if (r != 0) {
    delete handles_;
    handles_ = nullptr;
    ThrowWithCode(env, uv_err_name(r), std::string("uv_poll_init: ") + uv_strerror(r));
    return false;
  }
  uv_timer_init(loop, &handles_->timer);
  uv_idle_init(loop, &handles_->idle);
  handles_->open = 3;
  uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->timer));
  uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->idle));
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

// A requested turn (ScheduleTurn): one per loop iteration.
void DriverObject::OnIdle(uv_idle_t* handle) {
  uv_idle_stop(handle);
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
  const napi_status status =
      napi_make_callback(env, async_context_, receiver.IsEmpty() ? env.Global() : receiver,
                         on_wake_.Value(), 0, nullptr, &result);
  if (status == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

void DriverObject::Turn(bool forced) {
  if (closed_) return;
  if (MemoryDetached(Env())) return;  // closed it: no SQE taken, no CQE written
  // Only libuv callbacks start a turn, and JS cannot run one from inside
  // onTurn: in_turn_ and armed_in_turn_ rely on that.
  PERCORE_ASSERT(!in_turn_, "turns never nest");
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
  const napi_status status =
      napi_make_callback(env, async_context_, receiver, on_turn_.Value(), 0, nullptr, &result);
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
  uv_idle_start(&handles_->idle, OnIdle);
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
    uv_close(reinterpret_cast<uv_handle_t*>(&handles_->idle), OnHandleClosed);
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
  detachable_ref_.Reset();
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

}  // namespace percore
