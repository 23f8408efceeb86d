#include "napi/args.h"

#include <cmath>

namespace percore {

void ThrowWithCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

bool IntArg(const Napi::CallbackInfo& info, size_t i, const char* what, double lo, double hi,
            int64_t* out) {
  Napi::Env env = info.Env();
  if (!info[i].IsNumber()) {
    Napi::TypeError::New(env, std::string(what) + " must be a number").ThrowAsJavaScriptException();
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

bool EntriesOption(Napi::Env env, Napi::Object options, uint32_t* out) {
  Napi::Value entries = options.Get("entries");
  if (entries.IsUndefined()) return true;
  const double v = entries.IsNumber() ? entries.As<Napi::Number>().DoubleValue() : NAN;
  if (!(v >= 1 && v <= 32768) || std::trunc(v) != v) {
    Napi::RangeError::New(env, "options.entries must be an integer in 1..32768")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace percore
