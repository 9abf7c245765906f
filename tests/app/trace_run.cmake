# psample run writes a trace that holds exactly the sampled draws (digest recomputed from
# the file), at several layouts, with and without warmup draws.
function(ps_trace_run_test name np)
  set(trace ${PROJECT_BINARY_DIR}/tests/trace_run_${name}.h5)
  set(extra_checks "")
  if(ARGN MATCHES "save_warmup=true")
    set(extra_checks --warmup 300)
  endif()
  add_test(NAME app_trace_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/trace_digest.py ${trace}
            ${extra_checks}
            -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${MPIEXEC_PREFLAGS}
            $<TARGET_FILE:psample_cli> ${PSAMPLE_EIGHT_SCHOOLS_CONFIG} --force
            --set output.file=${trace} ${ARGN})
  ps_test_common(app_trace_${name} TIMEOUT 300 NPROCS ${np} LABELS app mpi)
endfunction()
ps_trace_run_test(np1 1)
ps_trace_run_test(np3_uneven 3 --set sampler.chains=5)
ps_trace_run_test(np2_warmup 2 --set output.save_warmup=true --set sampler.thin=2)
ps_trace_run_test(np4_early_stop 4 --set adaptation.adaptive_warmup=true
                  --set convergence.stop_early=true --set sampler.chains=8
                  --set adaptation.min_warmup=100 --set convergence.check_every=50)
