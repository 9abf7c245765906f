# Installs psample into a temporary prefix, then builds and runs an outside project
# against it twice: with find_package(psample) and with pkg-config.
# Variables: BUILD_DIR, SOURCE_DIR, WORK.
file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f bin/psample include/psample/psample.h include/psample/version.h
          lib/pkgconfig/psample.pc lib/cmake/psample/psampleConfig.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install is missing ${f}")
  endif()
endforeach()
file(GLOB shared_libs ${prefix}/lib/libpsample.so*)
file(GLOB static_libs ${prefix}/lib/libpsample.a)
if(NOT shared_libs OR NOT static_libs)
  message(FATAL_ERROR "install lacks libpsample.so or libpsample.a")
endif()

# find_package(psample)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK}/consumer
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK}/consumer)
run(${WORK}/consumer/consumer)
message(STATUS "${last_output}")
run(${WORK}/consumer/consumer_static)

# pkg-config
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
run(pkg-config --cflags --libs psample)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(cc -std=c11 ${SOURCE_DIR}/tests/install/consumer/main.c ${flags} -o ${WORK}/pc_consumer)
set(ENV{LD_LIBRARY_PATH} ${prefix}/lib)
run(${WORK}/pc_consumer)
message(STATUS "install test passed: ${prefix}")
