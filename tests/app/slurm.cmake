# The Slurm templates (scripts/slurm/) under a real one-node Slurm started by the test on
# loopback: each job is told to stop while psample samples, psample checkpoints and exits 3,
# the job requeues itself, resumes and finishes, and its trace must be bit-identical to an
# uninterrupted run's. Skips (77) without Slurm and munge (scripts/install-deps --slurm),
# without root, or when the daemons do not start; its own deadline (240 s) stays below the
# TIMEOUT so that it always stops the daemons it started.
add_test(NAME app_slurm_requeue
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/slurm_test.sh $<TARGET_FILE:psample_cli>
          $<TARGET_FILE:psample_test_model_eight_schools_noncentered>
          ${PROJECT_SOURCE_DIR}/configs/eight_schools.json
          ${PROJECT_SOURCE_DIR}/scripts/slurm/psample-srun.sbatch
          ${PROJECT_SOURCE_DIR}/scripts/slurm/psample-mpirun.sbatch)
ps_test_common(app_slurm_requeue TIMEOUT 300 NPROCS 2 LABELS app)
set_property(TEST app_slurm_requeue APPEND PROPERTY ENVIRONMENT PSAMPLE_PYTHON=${PSAMPLE_PYTHON})
