# The command line: help, version, usage errors, check on good and broken configurations
# at 1 and 4 ranks (only rank 0 prints; every rank exits with the same status).
# ps_add_cli_test(NAME n [NPROCS k] CHECKS ... COMMAND args...)
# Runs build/bin/psample (under mpiexec with k ranks when NPROCS is given).
function(ps_add_cli_test)
  cmake_parse_arguments(T "" "NAME;NPROCS" "CHECKS;COMMAND" ${ARGN})
  if(T_NPROCS)
    set(launcher ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_NPROCS} ${MPIEXEC_PREFLAGS})
  else()
    set(launcher "")
    set(T_NPROCS 1)
  endif()
  add_test(NAME ${T_NAME}
    COMMAND ${PSAMPLE_CLI_TEST} ${T_CHECKS} -- ${launcher} $<TARGET_FILE:psample_cli>
            ${T_COMMAND})
  ps_test_common(${T_NAME} TIMEOUT 120 NPROCS ${T_NPROCS} LABELS app)
endfunction()

ps_add_cli_test(NAME app_help CHECKS --exit 0 --stdout-has "usage: psample"
                COMMAND --help)
ps_add_cli_test(NAME app_version CHECKS --exit 0 --stdout-has "psample ${PROJECT_VERSION}"
                COMMAND --version)
ps_add_cli_test(NAME app_no_config CHECKS --exit 1 --stderr-has "no configuration file given"
                --stderr-has "psample --help" COMMAND check)
ps_add_cli_test(NAME app_unknown_option CHECKS --exit 1
                --stderr-has "unknown option '--frobnicate'"
                COMMAND run ${PSAMPLE_APP_CONFIGS}/broken_key.toml --frobnicate)
ps_add_cli_test(NAME app_missing_config CHECKS --exit 1
                --stderr-has "cannot read /nonexistent/psample.toml"
                COMMAND check /nonexistent/psample.toml)

foreach(np 1 4)
  ps_add_cli_test(NAME app_check_broken_type_np${np} NPROCS ${np}
    CHECKS --exit 1 --stdout-empty
      --stderr-has "broken_type.toml:6:10: error: 'sampler.chains' must be an integer, found a string"
      --stderr-count "error:#1" --stderr-has "chains = \"four\""
    COMMAND check ${PSAMPLE_APP_CONFIGS}/broken_type.toml)
  ps_add_cli_test(NAME app_check_broken_syntax_np${np} NPROCS ${np}
    CHECKS --exit 1 --stdout-empty --stderr-has "broken_syntax.toml:5:" --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/broken_syntax.toml)
  ps_add_cli_test(NAME app_check_broken_key_np${np} NPROCS ${np}
    CHECKS --exit 1
      --stderr-has "broken_key.toml:5:1: error: unknown key 'chians' in [sampler] (did you mean 'chains'?)"
      --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/broken_key.toml)
  ps_add_cli_test(NAME app_check_missing_library_np${np} NPROCS ${np}
    CHECKS --exit 1 --stderr-has "missing_library.toml:2:11: error: 'model.library' names"
      --stderr-has "no-such-model.so, which does not exist" --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/missing_library.toml)
  ps_add_cli_test(NAME app_check_bad_override_np${np} NPROCS ${np}
    CHECKS --exit 1
      --stderr-has "--set sampler.max_treedepth=0: error: 'sampler.max_treedepth' must be from 1 and 30, found 0"
      --stderr-count "error:#1"
    COMMAND check ${PSAMPLE_APP_CONFIGS}/missing_library.toml --set sampler.max_treedepth=0)
endforeach()

# The example configuration: check at 1 and 4 ranks, a run at 2 ranks.
foreach(np 1 4)
  ps_add_cli_test(NAME app_check_example_np${np} NPROCS ${np}
    CHECKS --exit 0 --stdout-toml sampler.chains=4 --stdout-toml sampler.seed=20261124
      --stdout-toml adaptation.pooled=true --stdout-toml "sampler.metric=\"diag\""
      --stderr-count "error:#0"
    COMMAND check ${PROJECT_SOURCE_DIR}/configs/eight_schools.toml --force)
endforeach()
# check on a configuration whose trace exists (a finished or interrupted run): a note from
# rank 0 only, the effective configuration, exit 0.
ps_add_cli_test(NAME app_check_existing_trace_np2 NPROCS 2
  CHECKS --exit 0 --stdout-toml sampler.chains=4 --stderr-count "already exists#1"
    --stderr-has "'psample resume' continues it" --stderr-count "error:#0"
  COMMAND check ${PROJECT_SOURCE_DIR}/configs/eight_schools.toml
          --set output.file=${PROJECT_SOURCE_DIR}/configs/eight_schools.toml)
ps_add_cli_test(NAME app_run_example_np2 NPROCS 2
  CHECKS --exit 0 --stdout-has "lp__" --stdout-has "theta[8]" --stdout-has "ess_bulk"
    --stdout-has "stopped: reached sampler.draws" --stdout-has "draws digest: "
    --stderr-has "psample: sampling" --stderr-count "error:#0"
  COMMAND ${PROJECT_SOURCE_DIR}/configs/eight_schools.toml --force
          --set output.file=${PROJECT_BINARY_DIR}/tests/example_run.h5)
