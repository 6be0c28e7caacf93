tokenflow_test(test_model
  ${CMAKE_CURRENT_LIST_DIR}/test_parity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_architecture.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_precision.cpp)
tokenflow_test(test_teacher ${CMAKE_CURRENT_LIST_DIR}/test_teacher.cpp)
tokenflow_test(test_generator
  ${CMAKE_CURRENT_LIST_DIR}/test_sampling.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_generator_decoder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_text_to_image.cpp)
tokenflow_test(test_understanding ${CMAKE_CURRENT_LIST_DIR}/test_understanding.cpp)
