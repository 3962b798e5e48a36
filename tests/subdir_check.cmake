# cmake -DSOURCE=<lowbit> -DWORK=<dir> -DGENERATOR=… -DCXX=… -P subdir_check.cmake: a project
# that includes lowbit by add_subdirectory() and one that uses FetchContent each configure with
# lowbit's tests, benchmarks, examples and install off (tests/consumer_subdir checks), then
# build and run a small program on lowbit::lowbit.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (exit ${rc}):\n${out}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE "${WORK}")
foreach(mode subdirectory fetchcontent)
  run("${mode}: configure" ${CMAKE_COMMAND} -S "${SOURCE}/tests/consumer_subdir" -B "${WORK}/${mode}" -G "${GENERATOR}"
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE= -DMODE=${mode} -DLOWBIT_SOURCE_DIR=${SOURCE})
  run("${mode}: build" ${CMAKE_COMMAND} --build "${WORK}/${mode}" --target consumer_min)
  run("${mode}: run" "${WORK}/${mode}/consumer_min")
endforeach()
file(REMOVE_RECURSE "${WORK}")
