// PERCORE_ASSERT: an invariant check that stays in release builds.
//
// For what can only be false if the host itself is wrong (a table sized to
// never overflow, an index a check already bounded). A broken invariant would
// otherwise corrupt the core's memory or hand the kernel a wild pointer, far
// from its cause; stopping at once, with the place and the reason, is
// cheaper to debug and safer to run. Never for input from the core or from
// JavaScript: that is refused with an error code.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PERCORE_ASSERT(cond, message)                                                         \
  do {                                                                                        \
    if (__builtin_expect(!(cond), 0)) {                                                       \
      std::fprintf(stderr, "percore: %s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, \
                   message, #cond);                                                           \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
