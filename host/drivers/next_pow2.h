// Ring sizes: the smallest power of two >= v (1 for 0).
#pragma once

#include <cstdint>

#include "check.h"

namespace percore {

inline uint32_t NextPow2(uint32_t v) {
  PERCORE_ASSERT(v <= (1u << 31), "a ring size past 2^31 has no u32 power of two");
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace percore
