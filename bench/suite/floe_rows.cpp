// floe's rows: an 8-byte request answered by one 8-byte response.

#include <benchmark/benchmark.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <cstdlib>

#include "suite.hpp"

namespace floe::bench {
namespace {

constexpr std::uint64_t kStopValue = ~std::uint64_t{0};

auto round_trip_service(floe::Node& node) {
  return node.service_builder("Bench/RoundTrip").request_response<std::uint64_t, std::uint64_t>();
}

floe::Config row_config() {
  floe::Config config;
  config.domain = unique_name("floe");
  return config;
}

void round_trip_floe_polling(benchmark::State& state) {
  place_client();
  const floe::Config config = row_config();
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = round_trip_service(node).max_clients(1).max_servers(1).create();
  ReadyFlag ready;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = round_trip_service(n).open();
    auto port = opened.server_builder().create();
    ready.raise();
    for (;;) {
      if (auto request = port.try_receive()) {
        const std::uint64_t value = request->payload();
        request->send_copy(value);
        if (value == kStopValue) return 0;
      }
    }
  });
  if (!ready.wait()) {
    state.SkipWithError("the server did not start");
    return;
  }
  auto client = service.client_builder().create();
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, state.max_iterations / 10, [&](std::int64_t i) {
    auto pending = client.send_copy(static_cast<std::uint64_t>(i));
    for (;;) {
      if (auto response = pending.try_receive()) {
        if (response->payload() != static_cast<std::uint64_t>(i)) std::abort();
        return;
      }
    }
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  // Waits for the answer: a request dropped before a server took it is withdrawn.
  auto stop = client.send_copy(kStopValue);
  while (!stop.try_receive()) {
  }
  report_cpu(state, client_cpu, server.finish(), state.iterations());
  if (server.failed()) state.SkipWithError("the server failed");
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/floe/polling", 200'000, round_trip_floe_polling);
  return true;
}();

}  // namespace
}  // namespace floe::bench
