ps_add_test(NAME unit_core SOURCES unit/test_core.c LABELS unit)
ps_add_test(NAME unit_rng SOURCES unit/test_rng.c LABELS unit)
