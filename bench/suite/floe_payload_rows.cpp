// floe's payload rows: a request of 8 B to 16 MiB answered by one 8-byte response, both sides
// polling. `loan` writes 8 bytes at each end of a request loaned in shared memory and sends it
// (zero copy: the rest of the chunk is never touched); `copy` hands send_copy a prepared buffer
// of the full size, which floe copies into shared memory.
//
// The slice rows (`slice_<bytes>`) do the same with a request of floe::Slice<std::byte> whose
// service's maximum is that size, loaned at that length (loan_slice_uninit) or copied from a span
// (send_copy); `loan_fill` also writes every byte of the loan, a request produced in place, to
// set against `copy`.

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
#include <span>
#include <string>

#include "suite.hpp"

namespace floe::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kStopValue = ~std::uint64_t{0};
/// The server's answer to a request whose two ends differ, or of the wrong length.
constexpr std::uint64_t kTorn = ~std::uint64_t{0} - 1;

template <std::size_t Bytes>
using Payload = std::array<std::byte, Bytes>;

/// Writes `value` into the first and the last 8 bytes (the same 8 when there are 8).
void mark_ends(std::span<std::byte> payload, std::uint64_t value) noexcept {
  std::memcpy(payload.data(), &value, sizeof value);
  std::memcpy(payload.data() + payload.size() - sizeof value, &value, sizeof value);
}

/// The value marked at both ends of a request of `bytes` bytes, or kTorn.
std::uint64_t read_ends(std::span<const std::byte> payload, std::size_t bytes) noexcept {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  if (payload.size() != bytes || bytes < sizeof first) return kTorn;
  std::memcpy(&first, payload.data(), sizeof first);
  std::memcpy(&last, payload.data() + bytes - sizeof last, sizeof last);
  return first == last ? first : kTorn;
}

/// How the request is shaped: one fixed-size payload, or a slice of bytes.
enum class Shape { fixed, slice };

template <std::size_t Bytes, Shape shape>
auto payload_service(floe::Node& node) {
  static_assert(Bytes >= sizeof(std::uint64_t));
  if constexpr (shape == Shape::fixed) {
    return node.service_builder("Bench/Payload").request_response<Payload<Bytes>, std::uint64_t>();
  } else {
    return node.service_builder("Bench/Slice")
        .request_response<floe::Slice<std::byte>, std::uint64_t>()
        .request_max_slice_len(Bytes);
  }
}

/// How the request is written: loaned and marked at its ends, loaned and filled, or copied.
enum class Send { loan, loan_fill, copy };

template <std::size_t Bytes, Shape shape, Send mode>
void payload_floe(benchmark::State& state) {
  static_assert(shape == Shape::slice || mode != Send::loan_fill);
  place_client();
  floe::Config config;
  config.domain = unique_name("floe");
  floe::Node node = floe::Node::create("bench-client", config);
  // Request chunks per client: max_loaned_requests + max_active_requests_per_client, 3 x 16 MiB
  // at most. Two active: the server may still hold the previous request when the next is sent.
  auto service = payload_service<Bytes, shape>(node)
                     .max_clients(1)
                     .max_servers(1)
                     .max_nodes(2)
                     .max_loaned_requests(1)
                     .max_active_requests_per_client(2)
                     .create();
  ReadyFlag ready;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = payload_service<Bytes, shape>(n).open();
    auto port = opened.server_builder().create();
    ready.raise();
    for (;;) {
      if (auto request = port.try_receive()) {
        const std::uint64_t value = read_ends(request->payload(), Bytes);
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
        if constexpr (mode == Send::copy) {
          mark_ends(*buffer, value);
          if constexpr (shape == Shape::fixed) {
            return client.send_copy(*buffer);
          } else {
            return client.send_copy(std::span<const std::byte>(*buffer));
          }
        } else {
          auto request = [&] {
            if constexpr (shape == Shape::fixed) {
              return client.loan_uninit();
            } else {
              return client.loan_slice_uninit(Bytes);
            }
          }();
          const std::span<std::byte> payload = request.payload();
          if constexpr (mode == Send::loan_fill) {
            std::memset(payload.data(), static_cast<int>(value & 0xff), payload.size());
          }
          mark_ends(payload, value);
          return std::move(request).send();
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
  register_row(workload + "/floe/loan", 100'000, payload_floe<Bytes, Shape::fixed, Send::loan>);
  register_row(workload + "/floe/copy", copy_samples,
               payload_floe<Bytes, Shape::fixed, Send::copy>);
}

[[maybe_unused]] const bool registered = [] {
  register_size<8>(100'000);
  register_size<4096>(100'000);
  register_size<65536>(20'000);
  register_size<1048576>(2'000);
  register_size<16777216>(400);
  // Slices: the small one against payload_8's loan (what the length costs), the large one
  // loaned, produced in place and copied.
  register_row("slice_8/floe/loan", 100'000, payload_floe<8, Shape::slice, Send::loan>);
  register_row("slice_1048576/floe/loan", 100'000, payload_floe<1048576, Shape::slice, Send::loan>);
  register_row("slice_1048576/floe/loan_fill", 2'000,
               payload_floe<1048576, Shape::slice, Send::loan_fill>);
  register_row("slice_1048576/floe/copy", 2'000, payload_floe<1048576, Shape::slice, Send::copy>);
  return true;
}();

}  // namespace
}  // namespace floe::bench
