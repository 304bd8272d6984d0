// Round trips through floe::Runtime, where each side waits with co_await, next to raw futex,
// eventfd and cache-line ping-pongs measured in the same run; then a stream of 8-byte responses
// consumed with co_await, counting allocations, sleeps and context switches per message.
//
// Usage: floe_bench_wakeup [samples]           everything (default 50000 samples per row)
//        floe_bench_wakeup stream [N]          only the stream of N responses (for strace -c -f)
//        floe_bench_wakeup spin [us] [samples] only floe round trips with that spin budget

#include <sys/resource.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "allocation_counter.hpp"
#include "baselines.hpp"
#include "harness.hpp"

namespace {

using namespace floe::bench;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

auto service_builder(floe::Node& node) {
  return node.service_builder("Bench/Wakeup").request_response<std::uint64_t, std::uint64_t>();
}

floe::Config bench_config(const char* what) {
  floe::Config config;
  config.domain = std::string("bench") + what + std::to_string(::getpid());
  return config;
}

long voluntary_context_switches() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_nvcsw;
}

struct RoundTrips {
  std::vector<std::int64_t> samples;
  std::uint64_t client_sleeps = 0;
};

/// Request -> response round trips, each side in a floe::Runtime with the given spin budget.
RoundTrips floe_runtime(std::size_t warmup, std::size_t count, std::chrono::nanoseconds spin) {
  const floe::Config config = bench_config("rt");
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = service_builder(node).max_clients(1).max_servers(1).create();
  const floe::RuntimeOptions options{.spin_budget = spin};
  SharedAnonymous<CacheLine> ready;
  Peer peer(1, [&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = service_builder(n).open();
    auto server = opened.server_builder().create();
    floe::Runtime runtime(options);
    ready->value.store(1);
    return runtime.block_on([&]() -> floe::Task<int> {
      for (;;) {
        auto request = co_await server.receive();
        const std::uint64_t value = request.payload();
        request.send_copy(value);
        if (value == kStop) co_return 0;
      }
    }());
  });
  while (ready->value.load() == 0) {
  }
  auto client = service.client_builder().create();
  floe::Runtime runtime(options);
  RoundTrips result;
  result.samples.resize(count);
  runtime.block_on([&]() -> floe::Task<void> {
    for (std::size_t i = 0; i < warmup + count; ++i) {
      const auto start = Clock::now();
      auto pending = client.send_copy(i);
      auto response = co_await pending.receive();
      if (!response || response->payload() != i) std::abort();
      if (i >= warmup) result.samples[i - warmup] = (Clock::now() - start).count();
      if (i + 1 == warmup) result.client_sleeps = runtime.stats().sleeps;
    }
    result.client_sleeps = runtime.stats().sleeps - result.client_sleeps;
    auto stop = client.send_copy(kStop);
    (void)co_await stop.receive();
  }());
  return result;
}

struct StreamReport {
  std::uint64_t responses = 0;
  double seconds = 0;
  std::uint64_t client_allocations = 0;
  std::uint64_t server_allocations = 0;
  std::uint64_t client_sleeps = 0;
  long client_context_switches = 0;
  long server_context_switches = 0;
};

struct StreamShared {
  CacheLine ready;
  std::atomic<std::uint64_t> server_allocations{0};
  std::atomic<long> server_context_switches{0};
};

/// One request answered by a stream of `count` loaned 8-byte responses; the client consumes it
/// with `while (auto r = co_await pending.receive())`. The server sends as fast as the client's
/// buffer lets it (blocking backpressure).
StreamReport floe_stream(std::uint64_t count) {
  const floe::Config config = bench_config("st");
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = service_builder(node)
                     .max_clients(1)
                     .max_servers(1)
                     .max_response_buffer_size(256)
                     .max_loaned_responses_per_request(1)
                     .enable_safe_overflow_for_responses(false)
                     .create();
  SharedAnonymous<StreamShared> shared;
  Peer peer(1, [&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = service_builder(n).open();
    auto server = opened.server_builder().backpressure(floe::Backpressure::block).create();
    floe::Runtime runtime;
    shared->ready.value.store(1);
    return runtime.block_on([&]() -> floe::Task<int> {
      auto request = co_await server.receive();
      const std::uint64_t allocations_before = allocations();
      const long switches_before = voluntary_context_switches();
      for (std::uint64_t i = 0; i < request.payload(); ++i) {
        auto response = request.loan();
        *response = i;
        if (!std::move(response).send()) co_return 1;
      }
      shared->server_allocations.store(allocations() - allocations_before);
      shared->server_context_switches.store(voluntary_context_switches() - switches_before);
      co_return 0;
    }());
  });
  while (shared->ready.value.load() == 0) {
  }
  auto client = service.client_builder().create();
  floe::Runtime runtime;
  StreamReport report;
  runtime.block_on([&]() -> floe::Task<void> {
    auto pending = client.send_copy(count);
    auto first = co_await pending.receive();
    if (!first || first->payload() != 0) std::abort();
    const auto start = Clock::now();
    const std::uint64_t allocations_before = allocations();
    const long switches_before = voluntary_context_switches();
    const std::uint64_t sleeps_before = runtime.stats().sleeps;
    std::uint64_t expected = 1;
    while (auto response = co_await pending.receive()) {
      if (response->payload() != expected++) std::abort();
    }
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    report.responses = expected - 1;
    report.client_allocations = allocations() - allocations_before;
    report.client_context_switches = voluntary_context_switches() - switches_before;
    report.client_sleeps = runtime.stats().sleeps - sleeps_before;
  }());
  report.server_allocations = shared->server_allocations.load();
  report.server_context_switches = shared->server_context_switches.load();
  return report;
}

void print_stream(const StreamReport& r) {
  std::printf("stream of %llu 8-byte responses consumed with co_await: %.2f million/s\n",
              static_cast<unsigned long long>(r.responses), r.responses / r.seconds / 1e6);
  std::printf(
      "  during it: heap allocations client %llu, server %llu; client runtime sleeps %llu; "
      "voluntary context switches client %ld, server %ld\n",
      static_cast<unsigned long long>(r.client_allocations),
      static_cast<unsigned long long>(r.server_allocations),
      static_cast<unsigned long long>(r.client_sleeps), r.client_context_switches,
      r.server_context_switches);
}

void print_ratio(const char* what, const Summary& row, const Summary& baseline) {
  std::printf("%s: %.2fx (median %.0f ns vs %.0f ns)\n", what, row.median_ns / baseline.median_ns,
              row.median_ns, baseline.median_ns);
}

}  // namespace

int main(int argc, char** argv) {
  pin_to_cpu(0);
  if (argc > 1 && std::strcmp(argv[1], "stream") == 0) {
    print_stream(floe_stream(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10'000'000));
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "spin") == 0) {
    const auto spin =
        std::chrono::microseconds(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20);
    const std::size_t n = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100'000;
    RoundTrips r = floe_runtime(n / 10, n, spin);
    std::printf("floe Runtime round trip, spin %lld us: median %.0f ns\n",
                static_cast<long long>(spin.count()), summarize("", r.samples).median_ns);
    return 0;
  }
  const std::size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50'000;
  // Rounds alternate between the rows, so drift of a shared machine hits all of them.
  constexpr std::size_t kRounds = 5;
  const std::size_t per_round = count / kRounds;
  const std::size_t warmup = per_round / 10;
  const std::vector<std::chrono::nanoseconds> spins = {0us, 2us, 5us, 20us, 50us};

  std::vector<std::int64_t> cache_line, futex, eventfd;
  std::vector<std::vector<std::int64_t>> floe_rows(spins.size());
  std::vector<std::uint64_t> sleeps(spins.size(), 0);
  for (std::size_t round = 0; round < kRounds; ++round) {
    auto append = [](std::vector<std::int64_t>& to, const std::vector<std::int64_t>& from) {
      to.insert(to.end(), from.begin(), from.end());
    };
    append(cache_line, raw_cache_line(warmup, per_round));
    append(futex, raw_futex(warmup, per_round));
    append(eventfd, raw_eventfd(warmup, per_round));
    for (std::size_t s = 0; s < spins.size(); ++s) {
      RoundTrips r = floe_runtime(warmup, per_round, spins[s]);
      append(floe_rows[s], r.samples);
      sleeps[s] += r.client_sleeps;
    }
  }
  std::printf("%zu samples per row in %zu alternating rounds, client on cpu 0, peer on cpu 1\n\n",
              cache_line.size(), kRounds);
  const Summary raw_line = summarize("raw cache-line ping-pong, polling", cache_line);
  const Summary raw_futex_row = summarize("raw futex ping-pong, both asleep", futex);
  const Summary raw_eventfd_row = summarize("raw eventfd ping-pong, both asleep", eventfd);
  std::vector<Summary> rows = {raw_line, raw_futex_row, raw_eventfd_row};
  for (std::size_t s = 0; s < spins.size(); ++s) {
    rows.push_back(
        summarize("floe Runtime, spin budget " + std::to_string(spins[s].count() / 1000) + " us",
                  floe_rows[s]));
  }
  std::printf("ratios below are to the futex row\n");
  print_table(rows, raw_futex_row);
  std::printf("\nclient sleeps per round trip:");
  for (std::size_t s = 0; s < spins.size(); ++s) {
    std::printf(" spin %lld us: %.2f", static_cast<long long>(spins[s].count() / 1000),
                static_cast<double>(sleeps[s]) / static_cast<double>(cache_line.size()));
  }
  std::printf("\n\n");
  print_ratio("floe asleep (spin 0) / raw futex", rows[3], raw_futex_row);
  print_ratio("floe spin 20 us / raw cache line", rows[6], raw_line);
  std::printf("\n");
  print_stream(floe_stream(10'000'000));
  return 0;
}
