# The compiled Stan model (src/model/stan_*.c).
find_package(Threads REQUIRED)
ps_add_test(NAME unit_stan_model SOURCES unit/test_stan_model.c LABELS unit TIMEOUT 300)
target_link_libraries(unit_stan_model PRIVATE Threads::Threads)
# Every posteriordb program of tiers 1-2 and every benchmark model (../shared; skips when
# it is absent): gradients against finite differences, reference columns present.
ps_add_test(NAME unit_stan_reference SOURCES unit/test_stan_reference.c LABELS unit TIMEOUT 300)
target_link_libraries(unit_stan_reference PRIVATE ${PSAMPLE_CJSON_TARGET})
# The benchmark models against their hand-written twins (tests/models) and closed forms.
ps_add_test(NAME unit_stan_twins SOURCES unit/test_stan_twins.c LABELS unit)
target_link_libraries(unit_stan_twins PRIVATE ${PSAMPLE_CJSON_TARGET} ${CMAKE_DL_LIBS})
add_dependencies(unit_stan_twins psample_test_models)
