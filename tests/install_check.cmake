# cmake -DSOURCE=<lowbit> -DWORK=<dir> -DGENERATOR=… -DCXX=… -P install_check.cmake:
# a default configure followed by `cmake --install` with nothing built must install the
# headers and the CMake package (and no program, none having been built); a project outside
# lowbit then finds the package and builds and runs tests/consumer's small program against it.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (exit ${rc}):\n${out}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE "${WORK}")
set(prefix "${WORK}/prefix")
run("default configure" ${CMAKE_COMMAND} -S "${SOURCE}" -B "${WORK}/build" -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX})
run("install without a build" ${CMAKE_COMMAND} --install "${WORK}/build" --prefix "${prefix}")
foreach(f include/lowbit/lowbit.hpp include/lowbit/core/config.hpp lib/cmake/lowbit/lowbitConfig.cmake
          lib/cmake/lowbit/lowbitConfigVersion.cmake lib/cmake/lowbit/lowbitTargets.cmake share/doc/lowbit/README.md)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install lacks ${f}")
  endif()
endforeach()
foreach(f bin/lowbit-compare bin/lowbit-bench)
  if(EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install has ${f}, which was never built")
  endif()
endforeach()
run("consumer configure (find_package)" ${CMAKE_COMMAND} -S "${SOURCE}/tests/consumer" -B "${WORK}/consumer"
    -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix})
run("consumer build" ${CMAKE_COMMAND} --build "${WORK}/consumer" --target consumer_min)
run("consumer run" "${WORK}/consumer/consumer_min")
file(REMOVE_RECURSE "${WORK}")
