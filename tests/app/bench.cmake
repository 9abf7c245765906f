# The benchmark harness (scripts/bench/run): two tiny runs of eight schools without
# ../shared, the JSON per run, the Markdown table and the Stan column logic.
add_test(NAME app_bench_harness
  COMMAND ${PSAMPLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/bench_smoke.py
          ${PROJECT_SOURCE_DIR}/scripts/bench/run $<TARGET_FILE:psample_cli>
          ${PROJECT_BINARY_DIR}/tests/models ${PROJECT_SOURCE_DIR}/configs/eight_schools.json
          ${CMAKE_CURRENT_BINARY_DIR}/bench_smoke)
ps_test_common(app_bench_harness TIMEOUT 120 LABELS app)
