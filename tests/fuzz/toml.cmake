# libFuzzer harness for the TOML decoder (src/config/toml*.c), seeded with toml-test's
# valid documents (when ../shared is present) and a few small files of our own.
ps_add_fuzzer(NAME fuzz_toml SOURCES fuzz/fuzz_toml.c
  SEEDS ${PSAMPLE_SHARED_DIR}/conformance/toml-test/tests/valid ${CMAKE_CURRENT_LIST_DIR}/corpus/toml
  SECONDS 30)
