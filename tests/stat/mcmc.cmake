# Statistical tests of src/mcmc (judged in MCSE units; see tests/stat/stat_util.h). Label
# stat: the CI subset (about 3 minutes in all on 2 busy cores); stat_long: the rest. Tests
# that read ../shared skip (exit 77) when it is absent.
foreach(program gauss models)
  ps_add_test_program(stat_mcmc_${program} SOURCES stat/test_stat_${program}.c)
  target_link_libraries(stat_mcmc_${program} PRIVATE ${PSAMPLE_CJSON_TARGET})
  add_dependencies(stat_mcmc_${program} psample_test_models)
endforeach()

function(ps_add_stat_mcmc name target label timeout)
  add_test(NAME ${name} COMMAND ${target} ${ARGN})
  ps_test_common(${name} TIMEOUT ${timeout} LABELS ${label})
  # One BLAS thread, as the driver runs chains: OpenBLAS's threaded dsymv is ten times
  # slower on small matrices and rounds differently from the one-thread path.
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT OPENBLAS_NUM_THREADS=1)
endfunction()

ps_add_stat_mcmc(stat_mcmc_nuts_diag stat_mcmc_gauss stat 300 nuts_diag)
ps_add_stat_mcmc(stat_mcmc_nuts_dense stat_mcmc_gauss stat 300 nuts_dense)
ps_add_stat_mcmc(stat_mcmc_metropolis stat_mcmc_gauss stat 300 metropolis)
ps_add_stat_mcmc(stat_mcmc_hmc stat_mcmc_gauss stat 300 hmc)
ps_add_stat_mcmc(stat_mcmc_gauss100_dense stat_mcmc_gauss stat 600 gauss100_dense)
ps_add_stat_mcmc(stat_mcmc_gauss100_diag stat_mcmc_gauss stat_long 1200 gauss100_diag)
ps_add_stat_mcmc(stat_mcmc_eight_schools stat_mcmc_models stat 300 eight_schools)
ps_add_stat_mcmc(stat_mcmc_logistic stat_mcmc_models stat 300 logistic)
ps_add_stat_mcmc(stat_mcmc_funnel stat_mcmc_models stat 300 funnel)
ps_add_stat_mcmc(stat_mcmc_funnel_noncentered stat_mcmc_models stat 300 funnel_noncentered)
ps_add_stat_mcmc(stat_mcmc_eight_schools_long stat_mcmc_models stat_long 1200 eight_schools_long)
ps_add_stat_mcmc(stat_mcmc_logistic_long stat_mcmc_models stat_long 1200 logistic_long)
ps_add_stat_mcmc(stat_mcmc_hier_long stat_mcmc_models stat_long 1800 hier_long)
