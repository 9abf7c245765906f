ps_add_test(NAME unit_ad SOURCES unit/test_ad.c LABELS unit)
# Micro-benchmark of the engine (a program, not a test): build/tests/bench_ad [seconds].
ps_add_test_program(bench_ad SOURCES bench/bench_ad.c)
