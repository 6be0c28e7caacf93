tokenflow_test(test_eval ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_evaluation.cpp)
