# The data reader (src/data): Stan JSON and HDF5 data files.
ps_add_test(NAME unit_data_json SOURCES unit/test_data_json.c LABELS unit)
ps_add_test(NAME unit_data_hdf5 SOURCES unit/test_data_hdf5.c LABELS unit)
ps_add_test(NAME unit_data_files SOURCES unit/test_data_files.c LABELS unit)
