# The MPI driver: bit-identical draws at any rank and thread count, and failures on one
# rank that every rank agrees on without hanging.
set(PSAMPLE_EIGHT_SCHOOLS_CONFIG ${PROJECT_BINARY_DIR}/tests/eight_schools.toml)
file(WRITE ${PSAMPLE_EIGHT_SCHOOLS_CONFIG}
  "[model]\nlibrary = \"${PROJECT_BINARY_DIR}/tests/models/eight_schools_noncentered.so\"\n"
  "[data]\nfile = \"${PROJECT_SOURCE_DIR}/configs/eight_schools.json\"\n"
  "[sampler]\nchains = 5\nwarmup = 300\ndraws = 300\nseed = 2385\n")

# Each variant runs at 1, 2, 4 ranks, with 2 threads, and with 3 ranks x 2 threads.
function(ps_layout_test name)
  add_test(NAME mpi_layouts_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run_layouts.py
            $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE} ${PSAMPLE_EIGHT_SCHOOLS_CONFIG}
            1x1,2x1,4x1,1x2,3x2 -- ${ARGN})
  ps_test_common(mpi_layouts_${name} TIMEOUT 300 NPROCS 4 LABELS mpi)
endfunction()
ps_layout_test(pooled_diag)
ps_layout_test(unpooled --set adaptation.pooled=false)
ps_layout_test(dense --set sampler.metric=dense)
ps_layout_test(adaptive_early_stop --set adaptation.adaptive_warmup=true
               --set convergence.stop_early=true --set sampler.chains=8
               --set adaptation.min_warmup=100 --set convergence.ess_bulk_min=200
               --set convergence.ess_tail_min=200 --set convergence.check_every=50)
ps_layout_test(thinned --set sampler.thin=3 --set convergence.check_every=70)
ps_layout_test(metropolis --set sampler.algorithm=metropolis)
ps_layout_test(hmc --set sampler.algorithm=hmc --set sampler.int_time=1.5)

# Faults on rank 2 of 4: every rank exits with the same status, rank 0 names rank 2.
function(ps_fault_test fault code text)
  string(REGEX REPLACE "@.*" "" fname "${fault}")
  add_test(NAME fault_${fname}_np4
    COMMAND ${PSAMPLE_CLI_TEST} --exit ${code} --stderr-has "${text}" --stderr-count "error:#1"
            -- ${CMAKE_COMMAND} -E env PSAMPLE_FAULT=${fault}
            ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 ${MPIEXEC_PREFLAGS}
            $<TARGET_FILE:psample_cli> ${PSAMPLE_EIGHT_SCHOOLS_CONFIG} --force
            --set output.file=${PROJECT_BINARY_DIR}/tests/fault_${fname}.h5)
  ps_test_common(fault_${fname}_np4 TIMEOUT 120 NPROCS 4 LABELS mpi fault)
endfunction()
ps_fault_test(model_load@2 1 "rank 2 of 4: ")
ps_fault_test(init@2 2 "rank 2 of 4: chain 3: the log density is not finite")
ps_fault_test(sample_model_error@2 1 "rank 2 of 4: chain 3: model error at iteration 7")
ps_fault_test(alloc@2 2 "rank 2 of 4: out of memory")

# Real failures: more ranks than chains; a model whose log density is NaN everywhere.
add_test(NAME fault_more_ranks_than_chains
  COMMAND ${PSAMPLE_CLI_TEST} --exit 1 --stderr-count "error:#1"
          --stderr-has "4 MPI ranks but only 3 chains" --stderr-has "sampler.chains to at least 4"
          -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${PSAMPLE_EIGHT_SCHOOLS_CONFIG} --set sampler.chains=3
          --force --set output.file=${PROJECT_BINARY_DIR}/tests/fault_ranks.h5)
ps_test_common(fault_more_ranks_than_chains TIMEOUT 120 NPROCS 4 LABELS mpi fault)
set(nan_config ${PROJECT_BINARY_DIR}/tests/broken_nan.toml)
file(WRITE ${nan_config}
  "[model]\nlibrary = \"${PROJECT_BINARY_DIR}/tests/models/broken_nan.so\"\n"
  "[sampler]\nchains = 4\nseed = 1\n")
add_test(NAME fault_nan_model_np2
  COMMAND ${PSAMPLE_CLI_TEST} --exit 2 --stderr-count "error:#1" --stderr-has "chain 0"
          --stderr-has "100"
          -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${nan_config} --force
          --set output.file=${PROJECT_BINARY_DIR}/tests/fault_nan.h5)
ps_test_common(fault_nan_model_np2 TIMEOUT 120 NPROCS 2 LABELS mpi fault)
