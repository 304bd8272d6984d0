# floe_grpc_proto(TARGET PROTO_FILE): a static library TARGET of the C++ protoc and
# grpc_cpp_plugin generate from PROTO_FILE at build time, into the build tree. Generated code
# is not ours to keep warning-free: the library builds without floe_warnings, and its headers
# are system headers to whoever links it. Needs Protobuf, gRPC and FLOE_GRPC_CPP_PLUGIN found.
function(floe_grpc_proto target proto_file)
  get_filename_component(proto_dir ${proto_file} DIRECTORY)
  get_filename_component(proto_name ${proto_file} NAME_WE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_generated)
  set(generated ${out}/${proto_name}.pb.cc ${out}/${proto_name}.pb.h
                ${out}/${proto_name}.grpc.pb.cc ${out}/${proto_name}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${generated}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} --proto_path=${proto_dir} --cpp_out=${out}
            --grpc_out=${out} --plugin=protoc-gen-grpc=${FLOE_GRPC_CPP_PLUGIN} ${proto_file}
    DEPENDS ${proto_file}
    COMMENT "protoc: ${proto_name}.proto"
    VERBATIM)
  add_library(${target} STATIC ${out}/${proto_name}.pb.cc ${out}/${proto_name}.grpc.pb.cc)
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC gRPC::grpc++ protobuf::libprotobuf)
endfunction()
