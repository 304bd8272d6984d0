# Installs floe into a scratch prefix, then configures, builds and runs an outside project that
# uses find_package(floe CONFIG REQUIRED).
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${FLOE_BINARY_DIR} --prefix ${WORK_DIR}/prefix
  RESULT_VARIABLE result)
if(result)
  message(FATAL_ERROR "cmake --install failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix RESULT_VARIABLE result)
if(result)
  message(FATAL_ERROR "configuring the consumer failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE result)
if(result)
  message(FATAL_ERROR "building the consumer failed")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE result)
if(result)
  message(FATAL_ERROR "the consumer failed")
endif()
if(PYTHON_EXECUTABLE)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${WORK_DIR}/prefix/${PYTHON_PACKAGE_DIR}
    ${PYTHON_EXECUTABLE} -c "import ctypes, floe; print('python:', floe.type_name(ctypes.c_uint64))"
    RESULT_VARIABLE result)
  if(result)
    message(FATAL_ERROR "the installed Python package floe does not import")
  endif()
  # Type checkers read the installed package's stubs only next to its py.typed marker.
  foreach(typing_file __init__.pyi py.typed)
    if(NOT EXISTS ${WORK_DIR}/prefix/${PYTHON_PACKAGE_DIR}/floe/${typing_file})
      message(FATAL_ERROR "the installed Python package floe lacks ${typing_file}")
    endif()
  endforeach()
endif()
