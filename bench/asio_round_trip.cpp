// Round trip of an 8-byte request and response with both sides asleep inside
// asio::io_context::run() (floe::async_receive with use_awaitable), next to a raw eventfd + epoll
// ping-pong between two processes measured in the same run.
// Usage: floe_bench_asio [samples]   (default 20000 per row)

#include <unistd.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <floe/asio.hpp>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "baselines.hpp"
#include "harness.hpp"

namespace {

using namespace floe::bench;
using Clock = std::chrono::steady_clock;

auto service_builder(floe::Node& node) {
  return node.service_builder("Bench/Asio").request_response<std::uint64_t, std::uint64_t>();
}

std::vector<std::int64_t> floe_in_asio(std::size_t warmup, std::size_t count) {
  floe::Config config;
  config.domain = "benchasio" + std::to_string(::getpid());
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = service_builder(node).max_clients(1).max_servers(1).create();
  SharedAnonymous<CacheLine> ready;
  Peer peer(1, [&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto server = service_builder(n).open().server_builder().create();
    asio::io_context io;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (;;) {
            auto request = co_await floe::async_receive(server, asio::use_awaitable);
            const std::uint64_t value = request.payload();
            request.send_copy(value);
            if (value == kStop) co_return;
          }
        },
        asio::detached);
    ready->value.store(1);
    io.run();
    return 0;
  });
  while (ready->value.load() == 0) {
  }
  auto client = service.client_builder().create();
  std::vector<std::int64_t> samples(count);
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (std::size_t i = 0; i < warmup + count; ++i) {
          const auto start = Clock::now();
          auto pending = client.send_copy(i);
          auto response = co_await floe::async_receive(pending, asio::use_awaitable);
          if (!response || response->payload() != i) std::abort();
          if (i >= warmup) samples[i - warmup] = (Clock::now() - start).count();
        }
        auto stop = client.send_copy(kStop);
        (void)co_await floe::async_receive(stop, asio::use_awaitable);
      },
      asio::detached);
  io.run();
  return samples;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000;
  pin_to_cpu(0);
  compare_in_alternating_rounds(count, "raw eventfd + epoll ping-pong (baseline)",
                                raw_eventfd_epoll, "floe in asio::io_context, both asleep",
                                floe_in_asio);
  return 0;
}
