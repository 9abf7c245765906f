add_test(NAME install_find_package
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -DWORK=${PROJECT_BINARY_DIR}/install-test
          -P ${CMAKE_CURRENT_LIST_DIR}/run_install.cmake)
ps_test_common(install_find_package TIMEOUT 300 LABELS install)
