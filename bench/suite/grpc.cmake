# gRPC rows of floe_bench_suite (grpc_rows.cpp): an async gRPC server over a Unix domain socket.
# The service's C++ is generated at build time from bench_service.proto
# (cmake/grpc_proto.cmake). Without Debian's gRPC and protobuf compiler packages the rows are
# still registered, as "not installed".
find_package(Protobuf QUIET)
find_package(gRPC CONFIG QUIET)
find_program(FLOE_GRPC_CPP_PLUGIN grpc_cpp_plugin)

if(Protobuf_FOUND AND Protobuf_PROTOC_EXECUTABLE AND TARGET gRPC::grpc++ AND FLOE_GRPC_CPP_PLUGIN)
  include(${PROJECT_SOURCE_DIR}/cmake/grpc_proto.cmake)
  floe_grpc_proto(floe_bench_grpc_service ${CMAKE_CURRENT_LIST_DIR}/bench_service.proto)
  target_sources(floe_bench_suite PRIVATE suite/grpc_rows.cpp)
  target_link_libraries(floe_bench_suite PRIVATE floe_bench_grpc_service)
else()
  target_sources(floe_bench_suite PRIVATE suite/grpc_rows.cpp)
  set_source_files_properties(
    suite/grpc_rows.cpp
    PROPERTIES COMPILE_DEFINITIONS
               "FLOE_BENCH_GRPC_MISSING=\"libgrpc++-dev / protobuf-compiler-grpc not installed\"")
endif()
