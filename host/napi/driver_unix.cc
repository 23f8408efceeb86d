// The driver classes' methods for Unix-domain sockets: names go in and come
// back as bytes (a Uint8Array), so an abstract name (leading NUL) or a path
// that is not UTF-8 crosses unchanged; unix_sockets.cc checks them.
#include <cerrno>

#include "layout.h"
#include "napi/args.h"
#include "napi/driver_object.h"
#include "unix_sockets.h"

namespace percore {

namespace {

// info[i] as bytes; throws a TypeError naming `what` otherwise.
bool BytesArg(const Napi::CallbackInfo& info, size_t i, const char* what, Napi::Uint8Array* out) {
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a Uint8Array")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Uint8Array>();
  return true;
}

}  // namespace

// bindUnix(fd, name, unlinkStale) -> 0 or -errno.
Napi::Value DriverObject::BindUnix(const Napi::CallbackInfo& info) {
  int64_t fd;
  Napi::Uint8Array name;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd) || !BytesArg(info, 1, "name", &name)) {
    return info.Env().Undefined();
  }
  const bool unlink_stale = info[2].ToBoolean().Value();
  const int32_t r = closed_ ? -EBADF
                            : percore::BindUnix(driver_->fds(), static_cast<int32_t>(fd),
                                                name.Data(), name.ByteLength(), unlink_stale);
  return Napi::Number::New(info.Env(), r);
}

// connectUnix(fd, name) -> 0 or -errno.
Napi::Value DriverObject::ConnectUnix(const Napi::CallbackInfo& info) {
  int64_t fd;
  Napi::Uint8Array name;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd) || !BytesArg(info, 1, "name", &name)) {
    return info.Env().Undefined();
  }
  const int32_t r = closed_ ? -EBADF
                            : percore::ConnectUnix(driver_->fds(), static_cast<int32_t>(fd),
                                                   name.Data(), name.ByteLength());
  return Napi::Number::New(info.Env(), r);
}

Napi::Value DriverObject::UnixNameOf(const Napi::CallbackInfo& info, bool peer) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return env.Undefined();
  uint8_t name[sizeof(sockaddr_un{}.sun_path)];
  const int32_t r =
      closed_ ? -EBADF : UnixName(driver_->fds(), static_cast<int32_t>(fd), peer, name);
  if (r < 0) return Napi::Number::New(env, r);
  return Napi::Buffer<uint8_t>::Copy(env, name, static_cast<size_t>(r));
}

// unixLocalName(fd) / unixPeerName(fd) -> the name's bytes, or -errno.
Napi::Value DriverObject::UnixLocalName(const Napi::CallbackInfo& info) {
  return UnixNameOf(info, false);
}

Napi::Value DriverObject::UnixPeerName(const Napi::CallbackInfo& info) {
  return UnixNameOf(info, true);
}

// peerCredentials(fd) -> { pid, uid, gid } or -errno.
Napi::Value DriverObject::PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!IntArg(info, 0, "fd", kI32Min, kI32Max, &fd)) return env.Undefined();
  percore::PeerCredentials cred{};
  const int32_t r =
      closed_ ? -EBADF : PeerCredentialsOf(driver_->fds(), static_cast<int32_t>(fd), &cred);
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

// stageName(id, name) -> 0 or -errno: the destination of op `id`, a
// SENDMSG_TO_NAME already in the SQ and not yet flushed.
Napi::Value DriverObject::StageName(const Napi::CallbackInfo& info) {
  int64_t id;
  Napi::Uint8Array name;
  if (!IntArg(info, 0, "id", 0, kU32Max, &id) || !BytesArg(info, 1, "name", &name)) {
    return info.Env().Undefined();
  }
  MsgSlots* slots = closed_ ? nullptr : driver_->msg_slots();
  const int32_t r = slots == nullptr
                        ? -EBADF
                        : slots->Stage(static_cast<uint32_t>(id), name.Data(), name.ByteLength());
  return Napi::Number::New(info.Env(), r);
}

// msgName(id) -> the Unix sender of op `id`'s RECVMSG (during its delivery),
// or -errno.
Napi::Value DriverObject::MsgName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (!IntArg(info, 0, "id", 0, kU32Max, &id)) return env.Undefined();
  MsgSlots* slots = closed_ ? nullptr : driver_->msg_slots();
  uint8_t name[sizeof(sockaddr_un{}.sun_path)];
  const int32_t r = slots == nullptr ? -EBADF : slots->SenderName(static_cast<uint32_t>(id), name);
  if (r < 0) return Napi::Number::New(env, r);
  return Napi::Buffer<uint8_t>::Copy(env, name, static_cast<size_t>(r));
}

// stageFds(id, fds) -> 0 or -errno: the descriptors SENDMSG `id` (MSG_FDS,
// submitted and not yet flushed) carries; each must be this driver's.
Napi::Value DriverObject::StageFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (!IntArg(info, 0, "id", 0, kU32Max, &id)) return env.Undefined();
  if (!info[1].IsArray()) {
    Napi::TypeError::New(env, "fds must be an array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[1].As<Napi::Array>();
  if (list.Length() > layout::kMsgFdsMax) return Napi::Number::New(env, -EINVAL);
  int32_t fds[layout::kMsgFdsMax];
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) return Napi::Number::New(env, -EBADF);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<int32_t>(d) || d < 0) return Napi::Number::New(env, -EBADF);
    fds[i] = static_cast<int32_t>(d);
  }
  MsgSlots* slots = closed_ ? nullptr : driver_->msg_slots();
  const int32_t r = slots == nullptr ? -EBADF
                                     : slots->StageFds(static_cast<uint32_t>(id), fds,
                                                       list.Length(), driver_->fds());
  return Napi::Number::New(env, r);
}

// msgFds(id) -> the descriptors RECVMSG `id` received (owned by this driver),
// during its delivery, or -errno.
Napi::Value DriverObject::MsgFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (!IntArg(info, 0, "id", 0, kU32Max, &id)) return env.Undefined();
  MsgSlots* slots = closed_ ? nullptr : driver_->msg_slots();
  int32_t fds[layout::kMsgFdsMax];
  const int32_t r = slots == nullptr ? -EBADF : slots->ReceivedFds(static_cast<uint32_t>(id), fds);
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Array out = Napi::Array::New(env, static_cast<size_t>(r));
  for (int32_t i = 0; i < r; i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  return out;
}

}  // namespace percore
