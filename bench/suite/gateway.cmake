# floe-gateway's rows of floe_bench_suite (gateway_rows.cpp): they run the floe-gateway program
# built here; without it (FLOE_BUILD_GATEWAY off, or gRPC not installed) they say so.
target_sources(floe_bench_suite PRIVATE suite/gateway_rows.cpp)
if(TARGET floe_gateway)
  add_dependencies(floe_bench_suite floe_gateway)
  set_source_files_properties(
    suite/gateway_rows.cpp PROPERTIES COMPILE_DEFINITIONS
                                      "FLOE_BENCH_GATEWAY_PATH=\"$<TARGET_FILE:floe_gateway>\"")
else()
  set_source_files_properties(
    suite/gateway_rows.cpp
    PROPERTIES COMPILE_DEFINITIONS
               "FLOE_BENCH_GATEWAY_MISSING=\"floe-gateway not built (needs libgrpc++-dev)\"")
endif()
