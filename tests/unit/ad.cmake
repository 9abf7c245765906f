ps_add_test(NAME unit_ad SOURCES unit/test_ad.c LABELS unit)
