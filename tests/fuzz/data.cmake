# libFuzzer harness for the Stan JSON data reader (src/data/json.c), seeded with
# posteriordb's data files (when ../shared is present) and a few small files of our own.
ps_add_fuzzer(NAME fuzz_data SOURCES fuzz/fuzz_data.c
  SEEDS ${PSAMPLE_SHARED_DIR}/reference/posteriordb ${CMAKE_CURRENT_LIST_DIR}/corpus/data
  SECONDS 30)
