# Runs one libFuzzer harness for a bounded time: ctest -L fuzz.
# Variables: FUZZER (program), SECONDS, SEEDS (list of folders), WORK (scratch corpus).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(dirs ${WORK})
foreach(seed ${SEEDS})
  if(IS_DIRECTORY ${seed})
    list(APPEND dirs ${seed})
  endif()
endforeach()
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 ${dirs}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (exit ${rc}); the crashing input is in the "
                      "working directory (crash-*, timeout-* or oom-*)")
endif()
