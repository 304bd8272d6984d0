# zeromq rows of floe_bench_suite: ZeroMQ over ipc:// through cppzmq (Debian: cppzmq-dev, which
# brings libzmq3-dev). Without it the rows are still there and say "cppzmq-dev not installed".
find_package(cppzmq CONFIG QUIET)
target_sources(floe_bench_suite PRIVATE suite/zeromq_rows.cpp)
if(cppzmq_FOUND)
  target_compile_definitions(floe_bench_suite PRIVATE FLOE_BENCH_ZEROMQ=1)
  target_link_libraries(floe_bench_suite PRIVATE cppzmq)
else()
  message(STATUS "floe_bench_suite: cppzmq not found, its rows say cppzmq-dev not installed")
  target_compile_definitions(floe_bench_suite PRIVATE FLOE_BENCH_ZEROMQ=0)
endif()
