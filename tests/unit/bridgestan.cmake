# BridgeStan-ABI model loader (src/model/bridgestan.c) and the hand-written test models
# (tests/models).
find_package(Threads REQUIRED)

ps_add_test(NAME unit_bridgestan_load SOURCES unit/test_bridgestan_load.c LABELS unit)
ps_add_test(NAME unit_bridgestan_models SOURCES unit/test_bridgestan_models.c LABELS unit)
ps_add_test(NAME unit_bridgestan_threads SOURCES unit/test_bridgestan_threads.c LABELS unit)
target_link_libraries(unit_bridgestan_threads PRIVATE Threads::Threads)
# Reads ../shared/bench/data (skips when it is absent).
ps_add_test(NAME unit_bridgestan_bench SOURCES unit/test_bridgestan_bench.c LABELS unit)
target_link_libraries(unit_bridgestan_bench PRIVATE ${PSAMPLE_CJSON_TARGET})

foreach(t unit_bridgestan_load unit_bridgestan_models unit_bridgestan_threads
          unit_bridgestan_bench)
  target_link_libraries(${t} PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(${t} psample_test_models)
endforeach()
