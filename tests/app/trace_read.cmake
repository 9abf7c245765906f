# Reading the traces of tests/mpi/trace.cmake the way arviz.from_netcdf does: root groups
# through h5py and netCDF4, each group through xarray with the h5netcdf and netcdf4
# engines, every value against the known functions. Debian's python3 with python3-h5py,
# -netcdf4, -h5netcdf, -xarray; the script exits 77 (skipped) when a module is missing.
find_program(PSAMPLE_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(PSAMPLE_PYTHON3 NAMES python3)

if(PSAMPLE_PYTHON3)
  # name of the writer test, chains, warmup draws (0: no warmup groups), draws
  foreach(spec "mpi_trace_write_1;4;9;23" "mpi_trace_write_2;5;12;31" "mpi_trace_write_4;3;10;26"
               "mpi_trace_write_2_romio;5;0;40" "mpi_trace_write_4_romio;6;11;29")
    list(GET spec 0 writer)
    list(GET spec 1 chains)
    list(GET spec 2 warmup)
    list(GET spec 3 draws)
    string(REPLACE "mpi_trace_write" "app_trace_read" name ${writer})
    add_test(NAME ${name}
      COMMAND ${PSAMPLE_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/trace_read.py
              ${PROJECT_BINARY_DIR}/tests/trace/${writer}.h5 ${chains} ${warmup} ${draws} --complete)
    ps_test_common(${name} TIMEOUT 120 LABELS app)
    set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED ${writer})
  endforeach()
endif()
