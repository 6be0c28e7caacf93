# The I/O tests (npy, safetensors, torch.save and TorchScript checkpoints including hostile pickles,
# images), as one executable. Included from tests/CMakeLists.txt, which defines tokenflow_test() and
# the fixture paths.
tokenflow_test(test_io
  ${CMAKE_CURRENT_LIST_DIR}/test_checkpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_image.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_npy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_output_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_torch_pickle.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_torch_save.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_torchscript.cpp)
