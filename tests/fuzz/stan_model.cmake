# The compiled Stan model: lowering, transformed data and evaluation of data-independent
# programs (tests/fuzz/fuzz_stan_model.c).
ps_add_fuzzer(NAME fuzz_stan_model SOURCES fuzz/fuzz_stan_model.c
              SEEDS ${CMAKE_CURRENT_LIST_DIR}/corpus/stan_model ${CMAKE_CURRENT_LIST_DIR}/corpus/stan
              SECONDS 30)
