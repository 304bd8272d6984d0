# floe's stream and fan-in rows of floe_bench_suite. floe itself (with its Asio adapter) is
# always there, so no row of these is ever missing.
target_sources(floe_bench_suite PRIVATE ${CMAKE_CURRENT_LIST_DIR}/floe_stream_rows.cpp
                                        ${CMAKE_CURRENT_LIST_DIR}/floe_fan_in_rows.cpp)
