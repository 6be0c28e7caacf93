tokenflow_test(test_text ${CMAKE_CURRENT_LIST_DIR}/test_sentencepiece.cpp)
