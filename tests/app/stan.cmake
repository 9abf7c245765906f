# Stan programs on the command line ([model] file): the example at 1 and 2 ranks, and the
# errors a user gets for bad data, a bad program and a missing file (located, printed
# once), and the warning that generated quantities are skipped (printed once).
foreach(np 1 2)
  ps_add_cli_test(NAME app_stan_check_example_np${np} NPROCS ${np}
    CHECKS --exit 0 --stdout-toml sampler.chains=4 --stderr-count "error:#0"
    COMMAND check ${PROJECT_SOURCE_DIR}/configs/eight_schools_stan.toml --force)
  ps_add_cli_test(NAME app_stan_bad_data_np${np} NPROCS ${np}
    CHECKS --exit 1 --stdout-empty
      --stderr-has "eight_schools.stan:5:17: error: 'y': declared array[8] real (J = 8), the data file"
      --stderr-has "stan_bad_data.json has 7 values" --stderr-has "array[J] real y;"
      --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/stan_bad_data.toml)
  ps_add_cli_test(NAME app_stan_bad_program_np${np} NPROCS ${np}
    CHECKS --exit 1 --stdout-empty --stderr-has "stan_bad_program.stan:5:20: error: expected"
      --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/stan_bad_program.toml)
  ps_add_cli_test(NAME app_stan_unsupported_np${np} NPROCS ${np}
    CHECKS --exit 1 --stdout-empty --stderr-has "stan_unsupported.stan:6:22: error:"
      --stderr-has "is not supported yet" --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/stan_unsupported.toml)
  ps_add_cli_test(NAME app_stan_missing_data_np${np} NPROCS ${np}
    CHECKS --exit 1 --stderr-has "stan_missing_data.toml:5:8: error: 'data.file' names"
      --stderr-has "no-such-data.json" --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/stan_missing_data.toml)
endforeach()
ps_add_cli_test(NAME app_stan_run_example_np2 NPROCS 2
  CHECKS --exit 0 --stdout-has "theta_tilde[8]" --stdout-has "theta[8]" --stdout-has "tau"
    --stdout-has "stopped: reached sampler.draws" --stderr-count "error:#0"
  COMMAND ${PROJECT_SOURCE_DIR}/configs/eight_schools_stan.toml --force
          --set output.file=${PROJECT_BINARY_DIR}/tests/example_stan_run.h5)
ps_add_cli_test(NAME app_stan_gq_warning_np2 NPROCS 2
  CHECKS --exit 0 --stdout-has "mu" --stderr-count "generated quantities block is skipped#1"
    --stderr-count "error:#0"
  COMMAND ${PSAMPLE_APP_CONFIGS}/stan_gq.toml --force
          --set output.file=${PROJECT_BINARY_DIR}/tests/stan_gq_run.h5)
