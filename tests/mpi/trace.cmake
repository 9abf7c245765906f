# The parallel trace writer (src/io/trace.c): writing at 1, 2 and 4 ranks with uneven and
# empty chain layouts, under Open MPI's two MPI-IO implementations (OMPIO, the default, and
# ROMIO); error agreement; durability after SIGKILL and resuming (label fault).
ps_add_test_program(test_trace SOURCES mpi/test_trace.c)

set(PSAMPLE_TRACE_TEST_DIR ${PROJECT_BINARY_DIR}/tests/trace)
file(MAKE_DIRECTORY ${PSAMPLE_TRACE_TEST_DIR})

# mpi_trace_write_<ranks>[_romio]: chains and layout chosen so that the counts are uneven
# (5 chains on 2 ranks) or a rank owns no chain (3 chains on 4 ranks).
function(ps_trace_write_test name nprocs io)
  ps_add_mpi_test(NAME ${name} TARGET test_trace NPROCS ${nprocs} TIMEOUT 120
    ARGS write path=${PSAMPLE_TRACE_TEST_DIR}/${name}.h5 ${ARGN})
  if(io STREQUAL "romio")
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT OMPI_MCA_io=romio321)
  endif()
  set_property(TEST ${name} APPEND PROPERTY FIXTURES_SETUP ${name})
endfunction()

ps_trace_write_test(mpi_trace_write_1 1 ompio chains=4 warmup=9 draws=23 block=5)
ps_trace_write_test(mpi_trace_write_2 2 ompio chains=5 warmup=12 draws=31 block=6)
ps_trace_write_test(mpi_trace_write_4 4 ompio chains=3 warmup=10 draws=26 block=4 layout=reverse)
ps_trace_write_test(mpi_trace_write_2_romio 2 romio chains=5 warmup=0 draws=40 block=9)
ps_trace_write_test(mpi_trace_write_4_romio 4 romio chains=6 warmup=11 draws=29 block=3)

foreach(np 1 2 4)
  ps_add_mpi_test(NAME mpi_trace_errors_${np} TARGET test_trace NPROCS ${np} TIMEOUT 120
    ARGS errors dir=${PSAMPLE_TRACE_TEST_DIR}/errors_${np})
  file(MAKE_DIRECTORY ${PSAMPLE_TRACE_TEST_DIR}/errors_${np})
endforeach()
