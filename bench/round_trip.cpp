// Round trip of an 8-byte request and an 8-byte response between two processes pinned to
// different cores, both polling, next to a raw shared-memory cache-line ping-pong measured in
// the same run. Usage: floe_bench_round_trip [samples]

#include <unistd.h>
#include <floe/floe.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "allocation_counter.hpp"
#include "baselines.hpp"
#include "harness.hpp"

namespace {

using namespace floe::bench;

HotPathAllocations* g_hot_path = nullptr;

std::vector<std::int64_t> floe_polling(std::size_t warmup, std::size_t count) {
  floe::Config config;
  config.domain = "bench" + std::to_string(::getpid());
  floe::Node node = floe::Node::create("bench-client", config);
  auto builder = [](floe::Node& n) {
    return n.service_builder("Bench/RoundTrip").request_response<std::uint64_t, std::uint64_t>();
  };
  auto service = builder(node).max_clients(1).max_servers(1).create();
  SharedAnonymous<CacheLine> ready;
  Peer peer(1, [&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto server = builder(n).open().server_builder().create();
    ready->value.store(1);
    const std::uint64_t before = allocations();
    for (;;) {
      if (auto request = server.try_receive()) {
        const std::uint64_t value = request->payload();
        request->send_copy(value);
        if (value == kStop) {
          g_hot_path->server.fetch_add(allocations() - before);
          return 0;
        }
      }
    }
  });
  while (ready->value.load() == 0) {
  }
  auto client = service.client_builder().create();
  std::vector<std::int64_t> samples(count);
  const std::uint64_t before = allocations();
  measure_into(samples, warmup, [&](std::size_t i) {
    auto pending = client.send_copy(i);
    for (;;) {
      if (auto response = pending.try_receive()) {
        if (response->payload() != i) std::abort();
        return;
      }
    }
  });
  g_hot_path->client.fetch_add(allocations() - before);
  // Waits for the answer: a request whose PendingResponse is dropped before a server took it
  // is withdrawn, and the server would never hear the stop.
  auto stop = client.send_copy(kStop);
  while (!stop.try_receive()) {
  }
  return samples;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 500'000;
  pin_to_cpu(0);
  SharedAnonymous<HotPathAllocations> allocations;
  g_hot_path = &*allocations;
  compare_in_alternating_rounds(count, "raw cache-line ping-pong (baseline)", raw_cache_line,
                                "floe request -> response, both polling", floe_polling);
  std::printf("\nheap allocations during the timed floe round trips: client %llu, server %llu\n",
              static_cast<unsigned long long>(allocations->client.load()),
              static_cast<unsigned long long>(allocations->server.load()));
  return 0;
}
