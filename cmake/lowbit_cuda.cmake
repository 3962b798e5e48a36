# The optional CUDA part: tests and benchmark of include/lowbit/cuda/ (LOWBIT_BUILD_CUDA=ON).
# The header-only library itself never needs CUDA; without nvcc this warns and adds nothing.
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(WARNING "LOWBIT_BUILD_CUDA is ON but no CUDA compiler was found: CUDA tests and benchmark are skipped")
  return()
endif()
# Hopper (sm_90) unless the caller chose; the kernels need nothing newer than sm_70.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
enable_language(CUDA)
# CMake 3.25 does not know nvcc's C++20 switch (CUDA_STANDARD 20 fails): pass it directly.
add_compile_options($<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)
add_subdirectory(${PROJECT_SOURCE_DIR}/tests/cuda ${PROJECT_BINARY_DIR}/tests/cuda)
add_subdirectory(${PROJECT_SOURCE_DIR}/bench/cuda ${PROJECT_BINARY_DIR}/bench/cuda)
