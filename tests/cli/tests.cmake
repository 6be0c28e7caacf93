# Tests of the `tokenflow` command-line tool: they run the built binary on the parity fixtures and
# check exit codes, one-line errors, outputs, and that a failed command leaves no file behind.
tokenflow_test(test_cli cli/test_cli.cpp cli/test_train_cli.cpp cli/test_evaluate_cli.cpp
  cli/test_shipped_model.cpp cli/test_generate_cli.cpp cli/test_chat_cli.cpp)
add_dependencies(test_cli tokenflow_cli)
target_compile_definitions(test_cli PRIVATE
  TOKENFLOW_CLI="$<TARGET_FILE:tokenflow_cli>"
  TOKENFLOW_README="${PROJECT_SOURCE_DIR}/README.md")
