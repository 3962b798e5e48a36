# Cross build for 64-bit Arm Linux (NEON) with Debian's cross compiler, run under qemu-user:
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   cmake --preset aarch64 && cmake --build --preset aarch64 && ctest --preset aarch64
# lowbit's dependencies are header-only (Eigen, xsimd, doctest), so the build machine's headers
# and CMake package files serve the target too; libraries come from the aarch64 sysroot only.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # cmake, ctest, qemu: the build machine's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)   # link only against the aarch64 sysroot
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)   # header-only dependencies live in /usr/include
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)   # and their package files in the host's /usr

# Debian installs xsimd's package files under the host's multiarch directory
# (/usr/lib/x86_64-linux-gnu/cmake/xsimd), which a search for aarch64 does not visit.
if(NOT xsimd_DIR)
  file(GLOB _lowbit_xsimd_dirs /usr/lib/*/cmake/xsimd/xsimdConfig.cmake /usr/share/cmake/xsimd/xsimdConfig.cmake)
  if(_lowbit_xsimd_dirs)
    list(GET _lowbit_xsimd_dirs 0 _lowbit_xsimd_cfg)
    get_filename_component(_lowbit_xsimd_dir "${_lowbit_xsimd_cfg}" DIRECTORY)
    set(xsimd_DIR "${_lowbit_xsimd_dir}" CACHE PATH "xsimd's CMake package directory (header-only: the host's serves)")
  endif()
endif()

# ctest runs the test executables through qemu, with the aarch64 sysroot's loader and libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
