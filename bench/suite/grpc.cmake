# gRPC rows of floe_bench_suite (grpc_rows.cpp): an async gRPC server over a Unix domain socket.
# The service's C++ is generated at build time from bench_service.proto by protoc and
# grpc_cpp_plugin, into the build tree. Without Debian's gRPC and protobuf compiler packages the
# rows are still registered, as "not installed".
find_package(Protobuf QUIET)
find_package(gRPC CONFIG QUIET)
find_program(FLOE_GRPC_CPP_PLUGIN grpc_cpp_plugin)

if(Protobuf_FOUND AND Protobuf_PROTOC_EXECUTABLE AND TARGET gRPC::grpc++ AND FLOE_GRPC_CPP_PLUGIN)
  set(floe_grpc_out ${CMAKE_CURRENT_BINARY_DIR}/suite_grpc)
  set(floe_grpc_generated
      ${floe_grpc_out}/bench_service.pb.cc ${floe_grpc_out}/bench_service.pb.h
      ${floe_grpc_out}/bench_service.grpc.pb.cc ${floe_grpc_out}/bench_service.grpc.pb.h)
  add_custom_command(
    OUTPUT ${floe_grpc_generated}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${floe_grpc_out}
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} --proto_path=${CMAKE_CURRENT_LIST_DIR}
            --cpp_out=${floe_grpc_out} --grpc_out=${floe_grpc_out}
            --plugin=protoc-gen-grpc=${FLOE_GRPC_CPP_PLUGIN} bench_service.proto
    DEPENDS ${CMAKE_CURRENT_LIST_DIR}/bench_service.proto
    COMMENT "protoc: bench_service.proto for the gRPC rows"
    VERBATIM)
  # Generated code is not ours to keep warning-free: its own target, without floe_warnings, and
  # its headers are system headers to the rows that include them.
  add_library(floe_bench_grpc_service STATIC ${floe_grpc_out}/bench_service.pb.cc
                                             ${floe_grpc_out}/bench_service.grpc.pb.cc)
  target_include_directories(floe_bench_grpc_service SYSTEM PUBLIC ${floe_grpc_out})
  target_link_libraries(floe_bench_grpc_service PUBLIC gRPC::grpc++ protobuf::libprotobuf)
  target_sources(floe_bench_suite PRIVATE suite/grpc_rows.cpp)
  target_link_libraries(floe_bench_suite PRIVATE floe_bench_grpc_service)
else()
  target_sources(floe_bench_suite PRIVATE suite/grpc_rows.cpp)
  set_source_files_properties(
    suite/grpc_rows.cpp
    PROPERTIES COMPILE_DEFINITIONS
               "FLOE_BENCH_GRPC_MISSING=\"libgrpc++-dev / protobuf-compiler-grpc not installed\"")
endif()
