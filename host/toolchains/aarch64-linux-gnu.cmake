# Cross-compiles the host for linux-arm64 (glibc) with Debian's
# g++-aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu), for
# scripts/prebuild.js. Headers and libraries come from the cross sysroot
# (/usr/aarch64-linux-gnu); programs (node, asked for node-addon-api's path and
# Node's include folder, which are the same for every CPU) from the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
