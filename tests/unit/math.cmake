ps_add_test(NAME unit_special SOURCES unit/test_special.c LABELS unit)
ps_add_test(NAME unit_dens SOURCES unit/test_dens.c LABELS unit)
ps_add_test(NAME unit_transform SOURCES unit/test_transform.c LABELS unit)
