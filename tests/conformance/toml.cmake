# The TOML decoder (src/config/toml*.c) on toml-test's TOML 1.0.0 cases.
#
# toml-decoder has toml-test's decoder interface (TOML on standard input, tagged JSON on
# standard output), so the upstream toml-test tool can also be pointed at build/bin.
ps_add_test_program(toml-decoder SOURCES conformance/toml_decoder.c)
set_target_properties(toml-decoder PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)

ps_add_test_program(toml_conformance SOURCES conformance/toml_conformance.c)
add_test(NAME toml_conformance COMMAND toml_conformance $<TARGET_FILE:toml-decoder>)
ps_test_common(toml_conformance LABELS conformance TIMEOUT 300)
