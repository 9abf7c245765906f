# src/mcmc: the pieces against hand-computed values, the chain on small C models, and bad
# input (non-finite models, failing regions, bad metrics).
ps_add_test(NAME unit_mcmc_pieces SOURCES unit/test_mcmc_pieces.c LABELS unit)
ps_add_test(NAME unit_mcmc_chain SOURCES unit/test_mcmc_chain.c LABELS unit)
ps_add_test(NAME unit_mcmc_faults SOURCES unit/test_mcmc_faults.c LABELS unit fault)
