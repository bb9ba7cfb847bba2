# Cross-compiles the Lambda bootstrap for arm64 (Graviton) on a Debian x86_64 machine:
#   scripts/package-lambda --arch arm64
# Needs scripts/install-deps --arm64 (g++-aarch64-linux-gnu and the :arm64 static libraries
# the bootstrap links: OpenSSL, c-ares). Only the bootstrap target can be built this way
# (BLUEGREEN_BOOTSTRAP_ONLY): the rest of the project's libraries have no arm64 package here.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Debian multiarch: the arm64 libraries live in /usr/lib/aarch64-linux-gnu, headers in
# /usr/include and /usr/include/aarch64-linux-gnu; nothing of the build machine's own
# architecture may be picked up.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
set(BLUEGREEN_BOOTSTRAP_ONLY ON CACHE BOOL "Configure only what the bootstrap links" FORCE)
set(BLUEGREEN_TESTS OFF CACHE BOOL "No tests in a cross build" FORCE)
