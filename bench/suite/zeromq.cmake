# zeromq rows of floe_bench_suite: added with their transport.
