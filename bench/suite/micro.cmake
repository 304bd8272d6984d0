# Micro-benchmarks of floe's building blocks (rows micro/<block>/<variant>). The index-queue row
# reaches into floe's internals: src/ is on the include path of that one source file only.
target_sources(floe_bench_suite PRIVATE ${CMAKE_CURRENT_LIST_DIR}/micro_rows.cpp)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/micro_rows.cpp PROPERTIES
                            INCLUDE_DIRECTORIES ${PROJECT_SOURCE_DIR}/src)
