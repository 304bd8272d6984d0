// floe_bench_suite: every transport's rows in one process, one run. See scripts/bench.sh, which
// runs it once per placement and turns its JSON into docs/BENCHMARKS.md.

#include <benchmark/benchmark.h>

#include <cstdlib>

#include "suite.hpp"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("placement", floe::bench::placement_name());
  benchmark::AddCustomContext("quick", floe::bench::quick() ? "1" : "0");
  benchmark::AddCustomContext("syscall_counting", floe::bench::syscall_counting());
  if (const char* commit = std::getenv("FLOE_BENCH_COMMIT")) {
    benchmark::AddCustomContext("commit", commit);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
