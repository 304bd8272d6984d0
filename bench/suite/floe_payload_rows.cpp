// floe's payload rows: a request of 8 B to 16 MiB answered by one 8-byte response, both sides
// polling. `loan` writes 8 bytes at each end of a request loaned in shared memory and sends it
// (zero copy: the rest of the chunk is never touched); `copy` hands send_copy a prepared buffer
// of the full size, which floe copies into shared memory.

#include <benchmark/benchmark.h>
#include <floe/floe.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "suite.hpp"

namespace floe::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kStopValue = ~std::uint64_t{0};
/// The server's answer to a request whose two ends differ.
constexpr std::uint64_t kTorn = ~std::uint64_t{0} - 1;

template <std::size_t Bytes>
using Payload = std::array<std::byte, Bytes>;

/// Writes `value` into the first and the last 8 bytes (the same 8 when Bytes is 8).
template <std::size_t Bytes>
void mark_ends(Payload<Bytes>& payload, std::uint64_t value) noexcept {
  static_assert(Bytes >= sizeof value);
  std::memcpy(payload.data(), &value, sizeof value);
  std::memcpy(payload.data() + Bytes - sizeof value, &value, sizeof value);
}

/// The value marked at both ends, or kTorn.
template <std::size_t Bytes>
std::uint64_t read_ends(const Payload<Bytes>& payload) noexcept {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::memcpy(&first, payload.data(), sizeof first);
  std::memcpy(&last, payload.data() + Bytes - sizeof last, sizeof last);
  return first == last ? first : kTorn;
}

template <std::size_t Bytes>
auto payload_service(floe::Node& node) {
  return node.service_builder("Bench/Payload").request_response<Payload<Bytes>, std::uint64_t>();
}

enum class Send { loan, copy };

template <std::size_t Bytes, Send mode>
void payload_floe(benchmark::State& state) {
  place_client();
  floe::Config config;
  config.domain = unique_name("floe");
  floe::Node node = floe::Node::create("bench-client", config);
  // Request chunks per client: max_loaned_requests + max_active_requests_per_client, 3 x 16 MiB
  // at most. Two active: the server may still hold the previous request when the next is sent.
  auto service = payload_service<Bytes>(node)
                     .max_clients(1)
                     .max_servers(1)
                     .max_nodes(2)
                     .max_loaned_requests(1)
                     .max_active_requests_per_client(2)
                     .create();
  ReadyFlag ready;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = payload_service<Bytes>(n).open();
    auto port = opened.server_builder().create();
    ready.raise();
    for (;;) {
      if (auto request = port.try_receive()) {
        const std::uint64_t value = read_ends(request->payload());
        request->send_copy(value);
        if (value == kStopValue) return 0;
      }
    }
  });
  std::string error;
  std::int64_t client_cpu = 0;
  if (!ready.wait()) error = "the server did not start";
  try {
    auto client = service.client_builder().create();
    // The copy's source: prepared (and its pages touched) before the row starts.
    const auto buffer = mode == Send::copy ? std::make_unique<Payload<Bytes>>() : nullptr;
    StallWatchdog watchdog;
    // One request marked with `value`; polls until the answer comes or the watchdog gives up.
    auto round_trip = [&](std::uint64_t value) -> std::optional<std::uint64_t> {
      auto pending = [&] {
        if constexpr (mode == Send::loan) {
          auto request = client.loan_uninit();
          mark_ends(request.payload(), value);
          return std::move(request).send();
        } else {
          mark_ends(*buffer, value);
          return client.send_copy(*buffer);
        }
      }();
      while (!watchdog.stalled()) {
        if (auto response = pending.try_receive()) return response->payload();
      }
      return std::nullopt;
    };
    const std::int64_t cpu_before = cpu_time_ns();
    if (error.empty()) {
      time_each(state, state.max_iterations / 10, [&](std::int64_t i) {
        if (!error.empty()) return;  // the remaining iterations pass at once
        watchdog.tick();
        const auto value = static_cast<std::uint64_t>(i);
        const auto answer = round_trip(value);
        if (answer != value) error = watchdog.stalled() ? "no answer for 5 s" : "a wrong answer";
      });
    }
    client_cpu = cpu_time_ns() - cpu_before;
    // Waits for the answer: a request dropped before a server took it is withdrawn.
    if (error.empty() && !round_trip(kStopValue)) error = "no answer to the stop request";
  } catch (const std::exception& e) {
    error = e.what();
  }
  // A server left waiting for a stop that never came is killed soon.
  const std::int64_t server_cpu = server.finish(error.empty() ? 30s : 2s);
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
  } else if (server.failed()) {
    state.SkipWithError("the server failed");
  } else {
    report_cpu(state, client_cpu, server_cpu, state.iterations());
  }
}

/// Registers the loan and the copy row of one size; `copy_samples` keeps the copy of the
/// largest sizes within a few seconds.
template <std::size_t Bytes>
void register_size(std::int64_t copy_samples) {
  const std::string workload = "payload_" + std::to_string(Bytes);
  register_row(workload + "/floe/loan", 100'000, payload_floe<Bytes, Send::loan>);
  register_row(workload + "/floe/copy", copy_samples, payload_floe<Bytes, Send::copy>);
}

[[maybe_unused]] const bool registered = [] {
  register_size<8>(100'000);
  register_size<4096>(100'000);
  register_size<65536>(20'000);
  register_size<1048576>(2'000);
  register_size<16777216>(400);
  return true;
}();

}  // namespace
}  // namespace floe::bench
