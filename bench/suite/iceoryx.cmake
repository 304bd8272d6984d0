# iceoryx rows of floe_bench_suite: classic iceoryx 2.0 (libiceoryx-posh-dev) and its daemon
# iox-roudi (package iceoryx), which every row starts and stops itself.
find_package(iceoryx_posh CONFIG QUIET)
find_program(FLOE_BENCH_IOX_ROUDI iox-roudi)

if(iceoryx_posh_FOUND AND FLOE_BENCH_IOX_ROUDI)
  target_sources(floe_bench_suite PRIVATE ${CMAKE_CURRENT_LIST_DIR}/iceoryx_rows.cpp
                                          ${CMAKE_CURRENT_LIST_DIR}/iceoryx_roudi.cpp)
  target_link_libraries(floe_bench_suite PRIVATE iceoryx_posh::iceoryx_posh)
  set_source_files_properties(
    ${CMAKE_CURRENT_LIST_DIR}/iceoryx_rows.cpp
    PROPERTIES COMPILE_DEFINITIONS "FLOE_BENCH_IOX_ROUDI=\"${FLOE_BENCH_IOX_ROUDI}\"")
else()
  target_sources(floe_bench_suite PRIVATE ${CMAKE_CURRENT_LIST_DIR}/iceoryx_missing.cpp)
endif()
