# Durability and resume of the trace writer (cmake -P script, run by tests/mpi/trace.cmake).
#
#  1. test_trace writes a trace on NP1 ranks, flushing every FLUSH_EVERY appends and
#     recording the draws of each flush in a side file (synced); with KILL = one|all|mid,
#     SIGKILL hits one rank between appends, every rank between appends, or one rank inside
#     an append (after the draw axis grew, before the blocks were written), KILL_GAP appends
#     after the KILL_AFTER-th flush. KILL = none lets the run finish.
#  2. The file must read back with exactly the draws of the last flush, bit for bit:
#     serial HDF5 (test_trace verify) and, when Python is there, h5py/netCDF4/xarray.
#  3. test_trace resume reopens it on NP2 ranks at those counts (dropping later draws),
#     writes the rest, and the whole trace must read back as if never interrupted.
#
# Variables: MPIEXEC NPFLAG PREFLAGS PROG NP1 NP2 KILL IO PYTHON READER DIR NAME CHAINS
# WARMUP DRAWS BLOCK, and optionally FLUSH_EVERY (3), KILL_AFTER (3), KILL_GAP (2): flush
# every FLUSH_EVERY appends, kill KILL_GAP appends after the KILL_AFTER-th flush (so with
# the defaults two appends are not flushed when the kill comes).
if(NOT FLUSH_EVERY)
  set(FLUSH_EVERY 3)
endif()
if(NOT KILL_AFTER)
  set(KILL_AFTER 3)
endif()
if(NOT KILL_GAP)
  set(KILL_GAP 2)
endif()
set(path ${DIR}/${NAME}.h5)
set(side ${DIR}/${NAME}.side)
file(REMOVE ${path} ${side})
if(IO STREQUAL "romio")
  set(ENV{OMPI_MCA_io} romio321)
endif()
separate_arguments(preflags UNIX_COMMAND "${PREFLAGS}")
set(model chains=${CHAINS} warmup=${WARMUP} draws=${DRAWS} block=${BLOCK})

function(run what expect_ok)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${what}: exit ${rc}\n${out}")
  if(expect_ok AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (exit ${rc}):\n${out}\n${err}")
  endif()
  if(NOT expect_ok AND rc EQUAL 0)
    message(FATAL_ERROR "${what} was to be killed but finished:\n${out}\n${err}")
  endif()
  set(last_rc ${rc} PARENT_SCOPE)
endfunction()

function(read_back what)
  if(NOT PYTHON)
    message(STATUS "${what}: no python3, h5py/xarray reading skipped")
    return()
  endif()
  execute_process(COMMAND ${PYTHON} ${READER} ${path} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 77)
    message(STATUS "${what}: ${out}")
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: the Python reader failed (exit ${rc}):\n${out}\n${err}")
  else()
    message(STATUS "${what}: ${out}")
  endif()
endfunction()

set(expect_ok FALSE)
if(KILL STREQUAL "none")
  set(expect_ok TRUE)
endif()
run("write on ${NP1} ranks, kill ${KILL}" ${expect_ok}
    ${MPIEXEC} ${NPFLAG} ${NP1} ${preflags} ${PROG} write path=${path} ${model}
    flush_every=${FLUSH_EVERY} kill_after=${KILL_AFTER} kill=${KILL} kill_gap=${KILL_GAP}
    side=${side})

if(NOT EXISTS ${side})
  message(FATAL_ERROR "no flush was recorded in ${side}")
endif()
file(READ ${side} counts)
string(STRIP "${counts}" counts)
string(REPLACE " " ";" counts "${counts}")
list(GET counts 0 flushed_warmup)
list(GET counts 1 flushed_draws)
message(STATUS "last flush: ${flushed_warmup} warmup draws, ${flushed_draws} draws")
if(NOT KILL STREQUAL "none" AND flushed_draws EQUAL DRAWS)
  message(FATAL_ERROR "the kill came after the last draw: nothing was tested")
endif()

if(NOT KILL STREQUAL "none")
  run("serial read-back at the last flush" TRUE
      ${MPIEXEC} ${NPFLAG} 1 ${preflags} ${PROG} verify path=${path} chains=${CHAINS}
      warmup=${WARMUP} side=${side})
  read_back("h5py/xarray read-back at the last flush" ${CHAINS} ${WARMUP} ${DRAWS} --side ${side})
endif()

run("resume on ${NP2} ranks from ${flushed_warmup}/${flushed_draws}" TRUE
    ${MPIEXEC} ${NPFLAG} ${NP2} ${preflags} ${PROG} resume path=${path} ${model}
    from_warmup=${flushed_warmup} from_draws=${flushed_draws})
read_back("h5py/xarray read-back after the resume" ${CHAINS} ${WARMUP} ${DRAWS} --complete)
