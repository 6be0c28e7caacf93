tokenflow_test(test_train_nets ${CMAKE_CURRENT_LIST_DIR}/test_losses_nets.cpp)
tokenflow_test(test_train_step ${CMAKE_CURRENT_LIST_DIR}/test_train_step.cpp)
tokenflow_test(test_train_data ${CMAKE_CURRENT_LIST_DIR}/test_data.cpp)
# The launcher is the CLI's (tools/launcher.h); the test starts its ranks with it.
tokenflow_test(test_train_distributed ${CMAKE_CURRENT_LIST_DIR}/test_distributed.cpp ${PROJECT_SOURCE_DIR}/tools/launcher.cpp)
target_include_directories(test_train_distributed PRIVATE ${PROJECT_SOURCE_DIR}/tools)
tokenflow_test(test_train_clip ${CMAKE_CURRENT_LIST_DIR}/test_teacher_training.cpp)
