tokenflow_test(test_training_plot ${CMAKE_CURRENT_LIST_DIR}/test_training_plot.cpp)
