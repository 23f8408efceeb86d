// Node-style codes ("EPERM", ...) for the errnos setup can fail with, for
// the `code` of the errors the bindings throw.
#pragma once

namespace percore {

// The name of `error` (a positive errno); "EIO" for one setup never meets.
const char* ErrnoName(int error);

}  // namespace percore
