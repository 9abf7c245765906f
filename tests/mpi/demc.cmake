# Population samplers (DEMetropolis, DEMetropolisZ) under MPI: the same draws at any
# number of ranks and threads, exact resume after signals on other numbers of ranks, and
# failures on one rank that every rank agrees on. The model is eight schools (10
# unconstrained parameters); 8 chains, so that ranks hold chains of both halves.
set(PSAMPLE_DEMC_CONFIG ${PROJECT_BINARY_DIR}/tests/demc_eight_schools.toml)
file(WRITE ${PSAMPLE_DEMC_CONFIG}
  "[model]\nlibrary = \"${PROJECT_BINARY_DIR}/tests/models/eight_schools_noncentered.so\"\n"
  "[data]\nfile = \"${PROJECT_SOURCE_DIR}/configs/eight_schools.json\"\n"
  "[sampler]\nalgorithm = \"demetropolis\"\nchains = 8\nwarmup = 300\ndraws = 300\n"
  "seed = 2385\ntune_interval = 50\n")

function(ps_demc_layout_test name layouts nprocs)
  add_test(NAME mpi_layouts_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run_layouts.py
            $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE} ${PSAMPLE_DEMC_CONFIG}
            ${layouts} -- ${ARGN})
  ps_test_common(mpi_layouts_${name} TIMEOUT 300 NPROCS ${nprocs} LABELS mpi)
endfunction()
# Even/odd halves over 1, 2, 4 ranks, threads; 7 chains (uneven halves and blocks); 3
# chains (three one-chain groups); DEMetropolisZ with snooker moves, exchanges every 7
# iterations (not dividing the check interval), thinning and saved warmup.
ps_demc_layout_test(demetropolis 1x1,2x1,4x1,1x2,3x2 4)
ps_demc_layout_test(demetropolis_7_chains 1x1,2x1,3x1,2x2 3 --set sampler.chains=7
                    --set sampler.de_tune=lambda)
ps_demc_layout_test(demetropolis_3_chains 1x1,3x1,1x3 3 --set sampler.chains=3)
ps_demc_layout_test(demetropolisz 1x1,2x1,4x1,2x2 4 --set sampler.algorithm=demetropolisz
                    --set sampler.chains=5 --set sampler.de_snooker=0.1
                    --set sampler.de_exchange_every=7 --set sampler.thin=2
                    --set output.save_warmup=true)

# Checkpoint and resume: signals during warmup, during sampling, and on one rank only
# (rank 1's first chain is odd on 3 ranks: the stop falls between the two half-steps).
function(ps_demc_resume_test name plan)
  add_test(NAME mpi_resume_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/resume.py
            $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE} ${PSAMPLE_DEMC_CONFIG}
            ${PROJECT_BINARY_DIR}/tests/resume_${name} "${plan}" -- ${ARGN})
  ps_test_common(mpi_resume_${name} TIMEOUT 300 NPROCS 4 LABELS mpi fault)
endfunction()
ps_demc_resume_test(demetropolis "2;2:120,3:451@1,4:520@3,1" --set output.save_warmup=true
                    --set convergence.check_every=70)
# DEMetropolisZ: a signal on one rank between exchanges (the others run to the exchange);
# the archive is dropped at the end of warmup between legs 1 and 2.
ps_demc_resume_test(demetropolisz "2;2:95,3:433@2,1" --set sampler.algorithm=demetropolisz
                    --set sampler.chains=5 --set sampler.de_exchange_every=7
                    --set sampler.de_snooker=0.2 --set parallel.threads=2)

# A model error on rank 2 of 4 mid-run: every rank stops with the same status.
add_test(NAME fault_demc_model_error_np4
  COMMAND ${PSAMPLE_CLI_TEST} --exit 1 --stderr-count "error:#1"
          --stderr-has "rank 2 of 4: chain 4: model error at iteration 7"
          -- ${CMAKE_COMMAND} -E env PSAMPLE_FAULT=sample_model_error@2
          ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${PSAMPLE_DEMC_CONFIG} --force
          --set output.file=${PROJECT_BINARY_DIR}/tests/fault_demc.h5)
ps_test_common(fault_demc_model_error_np4 TIMEOUT 120 NPROCS 4 LABELS mpi fault)

# Too few chains for DEMetropolis: a located configuration error, exit 1, on every rank.
add_test(NAME fault_demc_too_few_chains
  COMMAND ${PSAMPLE_CLI_TEST} --exit 1 --stderr-count "error:#1"
          --stderr-has "needs at least 3 chains" --stderr-has "found 2"
          -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${PSAMPLE_DEMC_CONFIG} --force --set sampler.chains=2
          --set output.file=${PROJECT_BINARY_DIR}/tests/fault_demc_chains.h5)
ps_test_common(fault_demc_too_few_chains TIMEOUT 120 NPROCS 2 LABELS mpi fault)
# Fewer chains than 2 d: a warning that explains why mixing will be poor; the run goes on.
add_test(NAME app_demc_few_chains_warning
  COMMAND ${PSAMPLE_CLI_TEST} --exit 0 --stderr-count "recommends at least 2 x 10 = 20 chains#1"
          --stderr-has "mixing will be poor" --stdout-has "draws digest"
          -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${PSAMPLE_DEMC_CONFIG} --force --set sampler.draws=50
          --set sampler.warmup=50
          --set output.file=${PROJECT_BINARY_DIR}/tests/app_demc_warning.h5)
ps_test_common(app_demc_few_chains_warning TIMEOUT 120 NPROCS 2 LABELS mpi app)

# DEMetropolisZ's archive in the checkpoint: rows added every exchange_every iterations in
# chain order, the first 90% dropped at the end of warmup, each row bit-identical to the
# reference run's draw of that chain at that iteration. Stops in sampling on 4 ranks (one
# rank signalled), exactly at an exchange on 2 ranks, and in warmup (before the drop).
function(ps_demc_archive_test name ref_ranks ranks signal_at)
  add_test(NAME mpi_demc_archive_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/demc_archive.py
            $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE}
            ${PROJECT_BINARY_DIR}/tests/models/std_normal.so
            ${PROJECT_BINARY_DIR}/tests/demc_archive_${name} ${ref_ranks} ${ranks} ${signal_at})
  ps_test_common(mpi_demc_archive_${name} TIMEOUT 300 NPROCS ${ranks} LABELS mpi)
endfunction()
ps_demc_archive_test(sampling_np4 1 4 451@1)
ps_demc_archive_test(at_exchange_np2 2 2 455)
ps_demc_archive_test(warmup_np3 1 3 250@2)
