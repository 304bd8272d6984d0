// Slices that grow (floe::AllocationStrategy) inside asio::io_contexts: an Asio server in one
// process grows its responses with floe::async_loan_slice while two Asio clients in another
// process, on one io_context, grow their requests with floe::async_loan_slice; every element
// is checked on both sides.

#include <gtest/gtest.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

#include "floe/asio.hpp"
#include "support/fixture.hpp"
#include "support/slice_elements.hpp"

namespace floe::test {
namespace {

using asio::use_awaitable;

constexpr std::uint64_t kInlineBytes = 64;   // request elements the service segment holds
constexpr std::uint64_t kInlineSamples = 4;  // response elements the service segment holds
/// Request lengths of the first client; the second sends each plus one.
const std::vector<std::uint64_t> kLengths = {10, 100, 30, 700, 5, 3000, 64, 65};

/// Each request is answered by two responses: `long_answer(length)` samples, then one.
std::uint64_t long_answer(std::uint64_t request_length) {
  return request_length / 10 + 1;
}

class AsioSliceGrowth : public ::testing::Test {
 protected:
  Config config = small_slice_config();
  Node node = Node::create("asio-growth", config);

  auto builder(Node& n) {
    return n.service_builder("Test/AsioGrowth")
        .request_response<Slice<std::byte>, Slice<Sample>>()
        .request_max_slice_len(kInlineBytes)
        .response_max_slice_len(kInlineSamples);
  }
};

TEST_F(AsioSliceGrowth, ClientsAndAServerGrowInsideIoContexts) {
  auto service = builder(node).create();
  const int requests = 2 * static_cast<int>(kLengths.size());

  ChildProcess server = started([&](const Signal& ready) {
    Node own = Node::create("server", config);
    auto remote = builder(own).open();
    auto port =
        remote.server_builder().allocation_strategy(AllocationStrategy::power_of_two).create();
    ready.notify();
    asio::io_context io;
    int answered = 0;
    bool correct = true;
    using Active = decltype(port)::Active;
    // One coroutine per request, so several answer at once.
    const auto answer = [&](Active active) -> asio::awaitable<void> {
      const std::span<const std::byte> request = active.payload();
      correct = correct && bytes_follow(request, request.size());
      for (const std::uint64_t n : {long_answer(request.size()), std::uint64_t{1}}) {
        auto response = co_await floe::async_loan_slice(active, n, use_awaitable);
        correct = correct && response.payload().size() == n;
        fill_samples(response.payload(), request.size() + n);
        correct = correct && co_await floe::async_send(std::move(response), use_awaitable);
      }
      ++answered;
    };
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < requests; ++i)
            asio::co_spawn(io, answer(co_await floe::async_receive(port, use_awaitable)),
                           asio::detached);
        },
        asio::detached);
    io.run_for(20s);
    FLOE_CHILD_CHECK(correct);
    return answered == requests ? 0 : 1;
  });

  auto best_fit =
      service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  auto power_of_two =
      service.client_builder().allocation_strategy(AllocationStrategy::power_of_two).create();
  int finished = 0;
  const auto run_client = [&](auto& client, std::uint64_t extra) -> asio::awaitable<void> {
    for (const std::uint64_t length : kLengths) {
      const std::uint64_t n = length + extra;
      auto request = co_await floe::async_loan_slice(client, n, use_awaitable);
      EXPECT_EQ(request.payload().size(), n);
      fill_bytes(request.payload(), n);
      auto pending = std::move(request).send();
      for (const std::uint64_t expected : {long_answer(n), std::uint64_t{1}}) {
        auto response = co_await floe::async_receive(pending, use_awaitable);
        if (!response) {
          ADD_FAILURE() << "the stream of a " << n << "-byte request ended early";
          co_return;
        }
        EXPECT_EQ(response->payload().size(), expected) << n;
        EXPECT_TRUE(samples_follow(response->payload(), n + expected)) << n;
      }
      EXPECT_FALSE(co_await floe::async_receive(pending, use_awaitable)) << "ends after two";
    }
    ++finished;
  };
  asio::io_context io;
  asio::co_spawn(io, run_client(best_fit, 0), asio::detached);
  asio::co_spawn(io, run_client(power_of_two, 1), asio::detached);
  io.run_for(20s);
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(server.wait(), 0);
  EXPECT_GT(service.usage().data_segments, 0u) << "the clients grew";
}

}  // namespace
}  // namespace floe::test
