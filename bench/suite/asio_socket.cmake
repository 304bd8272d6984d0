# asio_socket rows of floe_bench_suite: a Unix domain socket driven by Asio. Asio (libasio-dev,
# header-only) is a dependency of floe itself, so these rows are always built.
target_sources(floe_bench_suite PRIVATE suite/asio_socket_rows.cpp)
