# cmake -DCXX=… -DHEADERS="lowbit/a.hpp|…" -DINCLUDES="dir|…" -DWORK=dir -P cxx17_check.cmake:
# compiles each public header alone with -std=c++17 and fails unless the compiler stops with
# exactly one error diagnostic, the one that says lowbit needs C++20.
string(REPLACE "|" ";" includes "${INCLUDES}")
string(REPLACE "|" ";" headers "${HEADERS}")
set(flags)
foreach(dir ${includes})
  list(APPEND flags "-I${dir}")
endforeach()
set(failed)
foreach(header ${headers})
  string(MAKE_C_IDENTIFIER "${header}" id)
  set(tu "${WORK}/cxx17_${id}.cpp")
  file(WRITE "${tu}" "#include <${header}>\n")
  execute_process(COMMAND "${CXX}" -std=c++17 -fsyntax-only ${flags} "${tu}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  # Diagnostic lines only ("In file included from …/error.hpp" is not one).
  string(REGEX MATCHALL "(^|\n)[^\n]*: (fatal )?error: [^\n]*" errors "${out}")
  list(LENGTH errors count)
  if(rc EQUAL 0 OR NOT count EQUAL 1 OR NOT out MATCHES "lowbit needs C\\+\\+20")
    message(SEND_ERROR "${header} with -std=c++17: exit ${rc}, ${count} errors; want one saying lowbit needs C++20:\n${out}")
    list(APPEND failed ${header})
  endif()
endforeach()
list(LENGTH headers n)
if(failed)
  message(FATAL_ERROR "not refused with exactly one error: ${failed}")
endif()
message(STATUS "${n} headers with -std=c++17: one error each, lowbit needs C++20")
