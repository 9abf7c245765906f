ps_add_test(NAME unit_config SOURCES unit/test_config.c LABELS unit)
ps_add_test(NAME unit_readme SOURCES unit/test_readme.c LABELS unit)
