# The Stan-language front end: lexer, parser and checker.
ps_add_fuzzer(NAME fuzz_stan SOURCES fuzz/fuzz_stan.c unit/lang_sexpr.c
              SEEDS ${PSAMPLE_SHARED_DIR}/bench/models ${PSAMPLE_SHARED_DIR}/reference/posteriordb
                    ${CMAKE_CURRENT_LIST_DIR}/corpus/stan
              SECONDS 30)
