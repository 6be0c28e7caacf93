tokenflow_test(test_train_nets ${CMAKE_CURRENT_LIST_DIR}/test_losses_nets.cpp)
tokenflow_test(test_train_step ${CMAKE_CURRENT_LIST_DIR}/test_train_step.cpp)
tokenflow_test(test_train_data ${CMAKE_CURRENT_LIST_DIR}/test_data.cpp)
tokenflow_test(test_train_distributed ${CMAKE_CURRENT_LIST_DIR}/test_distributed.cpp)
