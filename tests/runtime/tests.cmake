tokenflow_test(test_runtime ${CMAKE_CURRENT_LIST_DIR}/test_runtime.cpp)
