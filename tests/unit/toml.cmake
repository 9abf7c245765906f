# The TOML decoder (src/config/toml*.c) beyond the toml-test suite.
ps_add_test(NAME unit_toml SOURCES unit/test_toml.c LABELS unit)
