// The fd hand-off between threads: one driver forgets an fd, another adopts
// it. Returns >= 0 or a negative Linux errno.
#pragma once

#include <cstdint>

#include "fd_table.h"

namespace percore {

// Records an fd another driver forgot (or any TCP socket the program owns)
// in `fds`, made non-blocking and close-on-exec. 0, -ENOTSOCK if it is not a
// socket, -EBADF if it is not open, -EEXIST if `fds` owns it already,
// -EBUSY if another driver (any thread) owns it and did not forget it for a
// hand-off, -EMFILE past the table's capacity.
int32_t AdoptSocket(FdTable& fds, int32_t fd);

}  // namespace percore
