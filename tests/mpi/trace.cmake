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

# Durability (DESIGN.md Invariant 4) and resume: see run_trace_kill.cmake. The Python
# reader is optional here; the serial HDF5 read-back always runs.
find_program(PSAMPLE_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(PSAMPLE_PYTHON3 NAMES python3)
function(ps_trace_kill_test name np1 np2 kill io)
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND}
      -DMPIEXEC=${MPIEXEC_EXECUTABLE} -DNPFLAG=${MPIEXEC_NUMPROC_FLAG}
      "-DPREFLAGS=${MPIEXEC_PREFLAGS}" -DPROG=$<TARGET_FILE:test_trace>
      -DNP1=${np1} -DNP2=${np2} -DKILL=${kill} -DIO=${io}
      -DPYTHON=${PSAMPLE_PYTHON3} -DREADER=${PROJECT_SOURCE_DIR}/tests/app/trace_read.py
      -DDIR=${PSAMPLE_TRACE_TEST_DIR} -DNAME=${name} ${ARGN}
      -P ${CMAKE_CURRENT_LIST_DIR}/run_trace_kill.cmake)
  set(procs ${np1})
  if(np2 GREATER np1)
    set(procs ${np2})
  endif()
  ps_test_common(${name} TIMEOUT 180 NPROCS ${procs} LABELS mpi fault)
endfunction()

ps_trace_kill_test(mpi_trace_kill_one_2 2 4 one ompio -DCHAINS=5 -DWARMUP=10 -DDRAWS=40 -DBLOCK=4)
ps_trace_kill_test(mpi_trace_kill_all_4 4 1 all romio -DCHAINS=6 -DWARMUP=7 -DDRAWS=45 -DBLOCK=5)
ps_trace_kill_test(mpi_trace_kill_mid_4 4 2 mid ompio -DCHAINS=3 -DWARMUP=10 -DDRAWS=40 -DBLOCK=4)
ps_trace_kill_test(mpi_trace_kill_mid_2_romio 2 2 mid romio -DCHAINS=5 -DWARMUP=0 -DDRAWS=90 -DBLOCK=6)
ps_trace_kill_test(mpi_trace_kill_all_1 1 2 all ompio -DCHAINS=4 -DWARMUP=20 -DDRAWS=30 -DBLOCK=3)
# Many small appends between two flushes: with HDF5's default metadata cache, evicted
# chunk-index nodes reach the disk between flushes and the killed file loses flushed draws;
# the writer's cache settings (make_fapl in trace.c) must keep it exact.
ps_trace_kill_test(mpi_trace_kill_gap_2 2 2 all ompio -DCHAINS=8 -DWARMUP=0 -DDRAWS=2400
  -DBLOCK=1 -DFLUSH_EVERY=500 -DKILL_AFTER=1 -DKILL_GAP=490)
ps_trace_kill_test(mpi_trace_resume_2_4 2 4 none ompio -DCHAINS=5 -DWARMUP=10 -DDRAWS=33 -DBLOCK=4)

# A collective write that fails on one rank cannot be agreed on: the job aborts, and the
# message names the rank, the call and the dataset.
ps_add_mpi_test(NAME mpi_trace_abort_2 TARGET test_trace NPROCS 2 TIMEOUT 60
  ARGS write path=${PSAMPLE_TRACE_TEST_DIR}/mpi_trace_abort_2.h5 chains=3 draws=10 verify=0)
set_property(TEST mpi_trace_abort_2 APPEND PROPERTY ENVIRONMENT PSAMPLE_FAULT=trace_write@1)
set_property(TEST mpi_trace_abort_2 PROPERTY PASS_REGULAR_EXPRESSION
  "psample: rank 1: trace file [^\n]*mpi_trace_abort_2.h5: H5Dwrite failed for posterior/chain inside a collective operation: injected fault")

# The throughput benchmark (not a test): scripts/bench/trace runs it against dd.
ps_add_test_program(bench_trace SOURCES mpi/bench_trace.c)
