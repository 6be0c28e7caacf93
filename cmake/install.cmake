# Installing tokenflow: the layers' static libraries and their export set (find_package(tokenflow)
# gives tokenflow::tokenizer, tokenflow::train, ... and tokenflow::tokenflow for all of them), the
# public headers, the `tokenflow` program, the shipped model under share/tokenflow/models (where
# default_model_path() looks beside an installed program) and a pkg-config file.
include(CMakePackageConfigHelpers)

get_property(TOKENFLOW_LAYERS GLOBAL PROPERTY TOKENFLOW_LAYERS)
install(TARGETS ${TOKENFLOW_LAYERS} tokenflow EXPORT tokenflowTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS tokenflow_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tokenflow DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/models/tokenflow-small.safetensors
  DESTINATION ${CMAKE_INSTALL_DATADIR}/tokenflow/models)

set(TOKENFLOW_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tokenflow)
install(EXPORT tokenflowTargets NAMESPACE tokenflow:: DESTINATION ${TOKENFLOW_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tokenflowConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tokenflowConfig.cmake INSTALL_DESTINATION ${TOKENFLOW_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tokenflowConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tokenflowConfig.cmake ${PROJECT_BINARY_DIR}/tokenflowConfigVersion.cmake
  DESTINATION ${TOKENFLOW_CMAKE_DIR})

# pkg-config: LibTorch has no .pc of its own, so its include folders and libraries are written in.
set(TOKENFLOW_PC_LIBS "")
foreach(layer train eval plot teacher tokenizer nn text io runtime)  # dependants before dependencies
  string(APPEND TOKENFLOW_PC_LIBS " -ltokenflow_${layer}")
endforeach()
set(TOKENFLOW_PC_PRIVATE "")
if(TOKENFLOW_USES_ONEDNN)
  string(APPEND TOKENFLOW_PC_PRIVATE " -ldnnl")
endif()
set(TOKENFLOW_PC_CFLAGS "")
foreach(dir ${TORCH_INCLUDE_DIRS})
  string(APPEND TOKENFLOW_PC_CFLAGS " -I${dir}")
endforeach()
get_filename_component(TOKENFLOW_TORCH_LIBDIR ${TORCH_LIBRARY} DIRECTORY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/tokenflow.pc.in ${PROJECT_BINARY_DIR}/tokenflow.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tokenflow.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
