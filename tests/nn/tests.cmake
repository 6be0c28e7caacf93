tokenflow_test(test_nn
  ${CMAKE_CURRENT_LIST_DIR}/test_quantizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_layers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_onednn_conv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_products.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_linear_weight.cpp)
