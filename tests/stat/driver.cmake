# The driver end to end against posteriordb's eight schools (non-centred) reference:
# pooled adaptation over 8 chains on 2 ranks, and adaptive warmup with early stopping.
set(ref ${PSAMPLE_SHARED_DIR}/reference/posteriordb/eight_schools-eight_schools_noncentered)
set(cfg ${PROJECT_BINARY_DIR}/tests/eight_schools_stat.toml)
file(WRITE ${cfg}
  "[model]\nlibrary = \"${PROJECT_BINARY_DIR}/tests/models/eight_schools_noncentered.so\"\n"
  "[data]\nfile = \"${ref}.data.json\"\n"
  "[sampler]\nchains = 8\nwarmup = 1000\ndraws = 2000\nseed = 20261124\n")
add_test(NAME stat_driver_eight_schools_pooled
  COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/driver_reference.py ${ref}.ref_summary.json
          -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${cfg} --force
          --set output.file=${PROJECT_BINARY_DIR}/tests/stat_pooled.h5)
ps_test_common(stat_driver_eight_schools_pooled TIMEOUT 300 NPROCS 2 LABELS stat mpi)
add_test(NAME stat_driver_eight_schools_adaptive
  COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/driver_reference.py ${ref}.ref_summary.json
          -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 ${MPIEXEC_PREFLAGS}
          $<TARGET_FILE:psample_cli> ${cfg} --set adaptation.adaptive_warmup=true
          --force --set output.file=${PROJECT_BINARY_DIR}/tests/stat_adaptive.h5
          --set convergence.stop_early=true --set convergence.ess_bulk_min=1000
          --set convergence.ess_tail_min=1000 --set sampler.seed=7)
ps_test_common(stat_driver_eight_schools_adaptive TIMEOUT 300 NPROCS 2 LABELS stat mpi)
