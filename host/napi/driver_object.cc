// The driver classes' JavaScript methods (docs/ARCHITECTURE.md, "The
// host's exports"): argument checks, then one call into the Driver or a
// socket helper. Sync helpers answer -errno; only bad arguments throw.
#include "napi/driver_object.h"

#include <cerrno>
#include <string>

#include "layout.h"
#include "multicast.h"
#include "napi/args.h"
#include "sockets.h"
#include "threads/wakers.h"

namespace percore {

Napi::Function DriverObject::Define(Napi::Env env, const char* name, DriverFactory factory) {
  return DefineClass(env, name,
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
                         InstanceMethod<&DriverObject::GetOption>("getOption"),
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
                         InstanceMethod<&DriverObject::BindUnix>("bindUnix"),
                         InstanceMethod<&DriverObject::ConnectUnix>("connectUnix"),
                         InstanceMethod<&DriverObject::UnixLocalName>("unixLocalName"),
                         InstanceMethod<&DriverObject::UnixPeerName>("unixPeerName"),
                         InstanceMethod<&DriverObject::PeerCredentials>("peerCredentials"),
                         InstanceMethod<&DriverObject::StageName>("stageName"),
                         InstanceMethod<&DriverObject::MsgName>("msgName"),
                         InstanceMethod<&DriverObject::StageFds>("stageFds"),
                         InstanceMethod<&DriverObject::MsgFds>("msgFds"),
                         InstanceMethod<&DriverObject::Membership>("membership"),
                         InstanceMethod<&DriverObject::RecordAddressOf>("recordAddress"),
                     },
                     reinterpret_cast<void*>(factory));
}

DriverObject::DriverObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DriverObject>(info) {
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
    Napi::TypeError::New(env, "options.onTurn must be a function").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object options = info[2].As<Napi::Object>();

  // Offsets are u32: a 4 GiB memory is addressed through its first 4 GiB - 1.
  const size_t length = memory.ByteLength();
  const uint32_t size = length > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(length);
  CoreMemory core;
  char message[256];
  if (core.Attach(memory.Data(), size, static_cast<uint32_t>(header), message, sizeof message) !=
      AttachError::kNone) {
    ThrowWithCode(env, "ERR_PERCORE_LAYOUT_MISMATCH", message);
    return;
  }
  // The kernel writes into this memory whenever it likes (a RECV in flight,
  // the buffer ring), so it must never be freed or moved under the driver.
  // A SharedArrayBuffer cannot be detached and lives while memory_ref_ holds
  // the view. A plain ArrayBuffer can be detached (transferred, or
  // napi_detach_arraybuffer) and its memory then freed, which no reference
  // prevents: only a non-detachable one is accepted, i.e. a WebAssembly
  // Memory's buffer. Node-API cannot ask "detachable?" without trying, so
  // the check tries: napi_detach_arraybuffer refuses a non-detachable buffer
  // without touching it (napi_detachable_arraybuffer_expected) and detaches
  // any other, which is then refused (and stays detached: it was never
  // memory a driver could use). Only a memory holding a valid header gets
  // here. A Wasm memory's buffer is still detached by memory.grow (the core
  // never grows after init): MemoryDetached checks that before every turn,
  // flush and poll, and closes the driver rather than run on it.
  napi_value buffer = nullptr;
  napi_get_typedarray_info(env, memory, nullptr, nullptr, nullptr, &buffer, nullptr);
  bool plain = false;
  if (buffer == nullptr || napi_is_arraybuffer(env, buffer, &plain) != napi_ok) {
    Napi::TypeError::New(env, "memory has no buffer").ThrowAsJavaScriptException();
    return;
  }
  if (plain) {
    const napi_status st = napi_detach_arraybuffer(env, buffer);
    if (st != napi_detachable_arraybuffer_expected) {
      if (st != napi_ok) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      ThrowWithCode(env, "ERR_PERCORE_MEMORY_DETACHABLE",
                    "memory must view a WebAssembly.Memory's buffer or a SharedArrayBuffer: a "
                    "detachable ArrayBuffer could be freed while the kernel writes into it");
      return;
    }
    detachable_ref_ = Napi::Persistent(Napi::Value(env, buffer));
  }
  auto factory = reinterpret_cast<DriverFactory>(info.Data());
  driver_ = factory(env, core, options);
  if (!driver_) return;

  memory_ref_ = Napi::Persistent(memory);
  on_turn_ = Napi::Persistent(options.Get("onTurn").As<Napi::Function>());
  if (napi_async_init(env, nullptr, Napi::String::New(env, "percore.turn"), &async_context_) !=
      napi_ok) {
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

// --- JS methods -------------------------------------------------------------

Napi::Value DriverObject::Name(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), driver_ ? driver_->name() : "");
}

// True (after closing the driver) when the core's memory was detached, by a
// WebAssembly.Memory grow: its address is no longer the one the driver and
// the kernel were given, so no SQE may be taken from it and no CQE written.
// Closing tears the ring down, cancelling what the kernel still holds.
bool DriverObject::MemoryDetached(Napi::Env env) {
  if (detachable_ref_.IsEmpty()) return false;
  Napi::HandleScope scope(env);  // Turn calls this from a libuv callback
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, detachable_ref_.Value(), &detached) != napi_ok) {
    detached = true;
  }
  if (detached && !closed_) CloseAll();
  return detached;
}

static Napi::Value ThrowDetached(Napi::Env env) {
  ThrowWithCode(env, "ERR_PERCORE_MEMORY_DETACHED",
                "the core's memory was detached (a WebAssembly.Memory grow?): the driver "
                "closed rather than let the kernel use memory that may have moved");
  return env.Undefined();
}

Napi::Value DriverObject::Flush(const Napi::CallbackInfo& info) {
  if (MemoryDetached(info.Env())) return ThrowDetached(info.Env());
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
  if (MemoryDetached(info.Env())) return ThrowDetached(info.Env());
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
    auto* idle = reinterpret_cast<uv_handle_t*>(&handles_->idle);
    if (ref) {
      uv_ref(poll);
      uv_ref(timer);
      uv_ref(idle);
    } else {
      uv_unref(poll);
      uv_unref(timer);
      uv_unref(idle);
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
  int64_t family, type = SOCK_STREAM;
  if (!IntArg(info, 0, "family", kI32Min, kI32Max, &family)) return info.Env().Undefined();
  if (info.Length() > 1 && !IntArg(info, 1, "type", kI32Min, kI32Max, &type)) {
    return info.Env().Undefined();
  }
  const int32_t r = closed_ ? -EBADF
                            : OpenSocket(driver_->fds(), static_cast<int32_t>(family),
                                         static_cast<int32_t>(type));
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
  const int32_t r =
      closed_ ? -EBADF
              : SetSocketOption(driver_->fds(), static_cast<int32_t>(fd),
                                static_cast<uint32_t>(option), static_cast<int32_t>(value));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::GetOption(const Napi::CallbackInfo& info) {
  int64_t fd, option;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd) ||
      !IntArg(info, 1, "option", 0, kU32Max, &option)) {
    return info.Env().Undefined();
  }
  const int32_t r = closed_ ? -EBADF
                            : GetSocketOption(driver_->fds(), static_cast<int32_t>(fd),
                                              static_cast<uint32_t>(option));
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::Bind(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return info.Env().Undefined();
  MemoryDetached(info.Env());  // closes the driver if so
  const int32_t r =
      closed_ ? -EBADF : BindStaging(driver_->fds(), driver_->memory(), static_cast<int32_t>(fd));
  return Napi::Number::New(info.Env(), r);
}

// membership(fd, group, iface, join) -> 0 or -errno.
Napi::Value DriverObject::Membership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return env.Undefined();
  if (!info[1].IsString() || !info[2].IsString()) {
    Napi::TypeError::New(env, "group and iface must be strings").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string group = info[1].As<Napi::String>().Utf8Value();
  const std::string iface = info[2].As<Napi::String>().Utf8Value();
  const bool join = info[3].ToBoolean().Value();
  if (closed_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, percore::Membership(driver_->fds(), static_cast<int32_t>(fd),
                                                    group.c_str(), iface.c_str(), join));
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
  MemoryDetached(env);  // closes the driver if so
  if (closed_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, percore::EncodeAddress(driver_->memory(), ip.c_str(), port,
                                                       static_cast<uint32_t>(offset)));
}

namespace {

Napi::Value AddressObject(Napi::Env env, int32_t r, const AddressText& text) {
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Object out = Napi::Object::New(env);
  out.Set("address", Napi::String::New(env, text.address));
  out.Set("family", Napi::String::New(env, text.family == 4 ? "IPv4" : "IPv6"));
  out.Set("port", Napi::Number::New(env, text.port));
  return out;
}

}  // namespace

Napi::Value DriverObject::AddressOf(const Napi::CallbackInfo& info, bool peer) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return env.Undefined();
  AddressText text;
  const int32_t r =
      closed_ ? -EBADF : SocketAddress(driver_->fds(), static_cast<int32_t>(fd), peer, &text);
  return AddressObject(env, r, text);
}

// recordAddress(offset) -> the address in a record, or -errno.
Napi::Value DriverObject::RecordAddressOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t offset;
  if (!IntArg(info, 0, "offset", 0, kU32Max, &offset)) return env.Undefined();
  AddressText text;
  const int32_t r =
      closed_ ? -EBADF : RecordAddress(driver_->memory(), static_cast<uint32_t>(offset), &text);
  return AddressObject(env, r, text);
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
  const int32_t r =
      Wake(static_cast<int32_t>(token), closed_ ? nullptr : driver_->messenger(), &path);
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

}  // namespace percore
