# Differential-evolution step methods (src/mcmc/demetropolis.c) and their configuration.
ps_add_test(NAME unit_mcmc_de SOURCES unit/test_mcmc_de.c LABELS unit)
