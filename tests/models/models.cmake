# Hand-written test models with the BridgeStan C ABI, one shared library each, built into
# ${PROJECT_BINARY_DIR}/tests/models/<name>.so (see tests/models/README.md). Tests and
# other modules load them with ps_model_bridgestan_create; depend on the target
# psample_test_models to have them all built.

set(PSAMPLE_TEST_MODEL_DIR ${PROJECT_BINARY_DIR}/tests/models)
add_custom_target(psample_test_models)

# ps_add_test_model(NAME name SOURCE file.c [LIBS ...] [DEFINES ...])
function(ps_add_test_model)
  cmake_parse_arguments(M "" "NAME;SOURCE" "LIBS;DEFINES" ${ARGN})
  set(target psample_test_model_${M_NAME})
  add_library(${target} MODULE
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${M_SOURCE}
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/bs_test_model.c)
  target_compile_options(${target} PRIVATE ${PSAMPLE_WARNINGS} -fvisibility=hidden)
  target_compile_definitions(${target} PRIVATE ${M_DEFINES})
  target_link_libraries(${target} PRIVATE ${PSAMPLE_CJSON_TARGET} ${M_LIBS} m)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${M_NAME}
    PREFIX ""
    SUFFIX ".so"
    LIBRARY_OUTPUT_DIRECTORY ${PSAMPLE_TEST_MODEL_DIR})
  add_dependencies(psample_test_models ${target})
endfunction()

ps_add_test_model(NAME std_normal SOURCE std_normal.c)
ps_add_test_model(NAME gauss_corr SOURCE gauss_corr.c LIBS ${LAPACK_LIBRARIES} ${BLAS_LIBRARIES})
ps_add_test_model(NAME eight_schools_noncentered SOURCE eight_schools_noncentered.c)
ps_add_test_model(NAME logistic_regression SOURCE logistic_regression.c
                  LIBS ${BLAS_LIBRARIES})
ps_add_test_model(NAME hier_linear_regression SOURCE hier_linear_regression.c)
ps_add_test_model(NAME neal_funnel10 SOURCE neal_funnel10.c)
ps_add_test_model(NAME banana SOURCE banana.c)
ps_add_test_model(NAME shapes SOURCE shapes.c)
# Broken models for the bad-input tests.
ps_add_test_model(NAME broken_nosymbol SOURCE std_normal.c DEFINES TM_OMIT_GRADIENT=1)
ps_add_test_model(NAME broken_version SOURCE std_normal.c DEFINES TM_ABI_MAJOR=1)
ps_add_test_model(NAME broken_construct SOURCE broken_construct.c)
ps_add_test_model(NAME broken_nan SOURCE broken_nan.c)
ps_add_test_model(NAME broken_reject SOURCE broken_reject.c)
ps_add_test_model(NAME broken_grad SOURCE broken_grad.c)
