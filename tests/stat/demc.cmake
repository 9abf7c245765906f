# Population samplers end to end (tests/stat/demc_stat.py): psample under mpirun on 2
# ranks recovers a 10-d correlated Gaussian and the banana in MCSE units, with acceptance
# rates in the band expected after tuning. A few seconds each; label stat is the CI
# subset, stat_long the longer runs. Convergence checks every 1000 draws (the monitor's
# checks cost grows with the draws held).
function(ps_demc_stat name label case)
  add_test(NAME ${name}
    COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/demc_stat.py ${case}
            $<TARGET_FILE:psample_cli> ${MPIEXEC_EXECUTABLE} 2 ${PROJECT_BINARY_DIR}/tests/models
            ${PROJECT_BINARY_DIR}/tests/${name} ${ARGN})
  ps_test_common(${name} TIMEOUT 600 NPROCS 2 LABELS ${label} mpi)
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT OPENBLAS_NUM_THREADS=1)
endfunction()

# DEMetropolis, 20 = 2 d chains, PyMC's defaults (acceptance about 0.26 on this target).
ps_demc_stat(stat_demc_gauss stat gauss --accept 0.15,0.45 --
             --set sampler.algorithm=demetropolis --set sampler.chains=20
             --set sampler.warmup=1000 --set sampler.draws=3000 --set sampler.seed=20261124
             --set convergence.check_every=1000)
# lambda tuned from a far too large 3 (acceptance near 0) into PyMC's dead zone [0.2, 0.5].
ps_demc_stat(stat_demc_gauss_tune_lambda stat gauss --accept 0.15,0.55 --
             --set sampler.algorithm=demetropolis --set sampler.chains=20
             --set sampler.de_lambda=3 --set sampler.de_tune=lambda
             --set sampler.warmup=2000 --set sampler.draws=3000 --set sampler.seed=7
             --set convergence.check_every=1000)
# DEMetropolisZ with 4 chains (fewer than d) and snooker updates.
ps_demc_stat(stat_demc_gauss_z stat gauss --accept 0.15,0.45 --
             --set sampler.algorithm=demetropolisz --set sampler.chains=4
             --set sampler.de_snooker=0.1 --set sampler.warmup=2000 --set sampler.draws=10000
             --set sampler.seed=31 --set convergence.check_every=1000)
# The banana: DEMetropolis with 16 chains.
ps_demc_stat(stat_demc_banana stat banana --accept 0.1,0.4 --
             --set sampler.algorithm=demetropolis --set sampler.chains=16
             --set sampler.warmup=2000 --set sampler.draws=10000 --set sampler.seed=20261124
             --set convergence.check_every=1000)
# Longer: DEMetropolisZ on the banana with 4 chains and snooker updates; 32 chains of
# DEMetropolis for 100000 draws each.
ps_demc_stat(stat_demc_banana_z stat_long banana --accept 0.1,0.4 --
             --set sampler.algorithm=demetropolisz --set sampler.chains=4
             --set sampler.de_snooker=0.1 --set sampler.warmup=2000 --set sampler.draws=100000
             --set sampler.seed=5 --set convergence.check_every=10000)
ps_demc_stat(stat_demc_banana_long stat_long banana --accept 0.1,0.4 --
             --set sampler.algorithm=demetropolis --set sampler.chains=32
             --set sampler.warmup=2000 --set sampler.draws=100000 --set sampler.seed=5
             --set convergence.check_every=20000)
