tokenflow_test(test_text ${CMAKE_CURRENT_LIST_DIR}/test_sentencepiece.cpp ${CMAKE_CURRENT_LIST_DIR}/test_byte_level_bpe.cpp)
