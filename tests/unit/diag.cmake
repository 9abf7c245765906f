ps_add_test(NAME diag_reference SOURCES unit/test_diag_reference.c LABELS unit)
ps_add_test(NAME unit_diag SOURCES unit/test_diag.c LABELS unit)
