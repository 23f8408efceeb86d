// Reading the arguments and options JavaScript passes to the bindings. Each
// reader either stores the value and returns true, or throws a TypeError /
// RangeError naming the argument and returns false: the binding then returns
// at once with the exception pending.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace percore {

constexpr double kI32Min = -2147483648.0;
constexpr double kI32Max = 2147483647.0;
constexpr double kU32Max = 4294967295.0;

// Throws an Error whose `code` is `code`.
void ThrowWithCode(Napi::Env env, const char* code, const std::string& message);

// info[i] as an integer in [lo, hi], named `what` in the error.
bool IntArg(const Napi::CallbackInfo& info, size_t i, const char* what, double lo, double hi,
            int64_t* out);

// options[name], when given, as a boolean; *out keeps its default otherwise.
bool BoolOption(Napi::Env env, Napi::Object options, const char* name, bool* out);

// options.entries, when given, as an integer in 1..32768 (io_uring's SQ
// size; checked alike for every driver so the runtime can pass it to any).
bool EntriesOption(Napi::Env env, Napi::Object options, uint32_t* out);

}  // namespace percore
