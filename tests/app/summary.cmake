# psample summary TRACE: the run's table again, from the file, without MPI.
function(ps_summary_test name np)
  set(trace ${PROJECT_BINARY_DIR}/tests/summary_${name}.h5)
  add_test(NAME app_summary_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/summary_file.py
            $<TARGET_FILE:psample_cli> ${trace}
            -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${MPIEXEC_PREFLAGS}
            $<TARGET_FILE:psample_cli> ${PSAMPLE_EIGHT_SCHOOLS_CONFIG} --force
            --set output.file=${trace} ${ARGN})
  ps_test_common(app_summary_${name} TIMEOUT 300 NPROCS ${np} LABELS app)
endfunction()
ps_summary_test(np2 2)
# Warnings must agree too: a short run with divergences and low ESS, a tree-depth limit.
ps_summary_test(warnings 3 --set sampler.warmup=30 --set sampler.draws=60
                --set sampler.max_treedepth=2 --set sampler.chains=3)
ps_add_cli_test(NAME app_summary_missing CHECKS --exit 1 --stderr-has "cannot read trace"
                COMMAND summary ${PROJECT_BINARY_DIR}/no/such/trace.h5)
ps_add_cli_test(NAME app_summary_not_hdf5 CHECKS --exit 1 --stderr-has "is not an HDF5 file"
                COMMAND summary ${PROJECT_SOURCE_DIR}/README.md)
