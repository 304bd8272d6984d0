# asio_socket rows of floe_bench_suite: added with their transport.
