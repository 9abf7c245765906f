# Checkpoint and resume: interrupted runs resumed on other numbers of ranks give the
# uninterrupted run's trace bit for bit. The configuration (tests/eight_schools.toml,
# 300 warmup + 300 draws, 5 chains) has slow windows ending at iterations 99, 149 and 249.
function(ps_resume_test name plan)
  add_test(NAME mpi_resume_${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/resume.py
            $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE} ${PSAMPLE_EIGHT_SCHOOLS_CONFIG}
            ${PROJECT_BINARY_DIR}/tests/resume_${name} "${plan}" -- ${ARGN})
  ps_test_common(mpi_resume_${name} TIMEOUT 300 NPROCS 4 LABELS mpi fault)
endfunction()
# during the init buffer; at a window end (99 is the first window's last iteration);
# just after it; during sampling on one rank only; three legs
ps_resume_test(warmup "2;2:40,3")
ps_resume_test(window_end "2;2:99,4")
ps_resume_test(after_window "1;1:100,2")
ps_resume_test(sampling_one_rank "2;4:450@1,1")
ps_resume_test(three_legs "3;2:120,3:250@2,4:500,1")
# adaptive warmup with early stopping, warmup draws saved, thinning, two threads
ps_resume_test(early_stop "2;2:180,3:360,2"
  --set adaptation.adaptive_warmup=true --set convergence.stop_early=true
  --set sampler.chains=8 --set adaptation.min_warmup=100 --set convergence.check_every=50
  --set convergence.ess_bulk_min=300 --set convergence.ess_tail_min=300)
ps_resume_test(warmup_saved_thinned "2;2:160,3:420,2"
  --set output.save_warmup=true --set sampler.thin=3 --set convergence.check_every=70
  --set parallel.threads=2)
ps_resume_test(dense_metric "2;2:130,1:350,3" --set sampler.metric=dense)

add_test(NAME mpi_resume_refusals
  COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/resume_refuse.py
          $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE}
          ${PROJECT_BINARY_DIR}/tests/models/eight_schools_noncentered.so
          ${PROJECT_SOURCE_DIR}/configs/eight_schools.json ${PROJECT_BINARY_DIR}/tests/resume_refusals)
ps_test_common(mpi_resume_refusals TIMEOUT 300 NPROCS 3 LABELS mpi fault)
# One rank stopped just before the end of warmup while others may have reached it: the
# ranks must still agree on whether warmup goes on (chains resume at mixed iterations).
ps_resume_test(warmup_end_mixed "2;3:297@1,4")
