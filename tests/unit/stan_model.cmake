# The compiled Stan model (src/model/stan_*.c).
find_package(Threads REQUIRED)
ps_add_test(NAME unit_stan_model SOURCES unit/test_stan_model.c LABELS unit TIMEOUT 300)
target_link_libraries(unit_stan_model PRIVATE Threads::Threads)
