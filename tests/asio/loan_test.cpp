// floe::async_loan / async_loan_slice on an ActiveRequest inside an asio::io_context: the loan
// waits without blocking the thread while the request has its responses loaned, is cancelled by
// a cancellation slot taking nothing, and the io_context may go with one pending.

#include <gtest/gtest.h>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "floe/asio.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

class AsioLoanTest : public AsyncServiceTest {
 protected:
  auto one_loan_service() { return builder().max_loaned_responses_per_request(1).create(); }

  /// Runs `io` until it has no more work, failing the test if that takes longer than `bound`.
  static void run_bounded(asio::io_context& io, std::chrono::seconds bound = 10s) {
    const auto start = Clock::now();
    io.run_for(bound);
    EXPECT_LT(Clock::now() - start, bound) << "the io_context still had work after the bound";
  }
};

TEST_F(AsioLoanTest, AwaitedLoanWaitsForTheHeldResponseToBeSent) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  ChildProcess client = client_expecting({6}, [](std::uint64_t r) {
    return std::vector<std::uint64_t>{r * 10, r * 10 + 1};
  });

  asio::io_context io;
  Clock::time_point received_from{}, start{}, loaned{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        received_from = Clock::now();
        auto active = co_await async_receive(server, use_awaitable);
        auto held = std::make_shared<U64Active::Loan>(active.loan());
        **held = active.payload() * 10;
        asio::steady_timer timer(io, 50ms);
        timer.async_wait([held](std::error_code) { EXPECT_TRUE(std::move(*held).send()); });
        start = Clock::now();
        auto response = co_await floe::async_loan(active, use_awaitable);
        loaned = Clock::now();
        EXPECT_EQ(*response, 0u);
        *response = active.payload() * 10 + 1;
        EXPECT_TRUE(co_await floe::async_send(std::move(response), use_awaitable));
      },
      asio::detached);
  run_bounded(io);
  EXPECT_GE(loaned - start, 40ms);
  EXPECT_LT(loaned - start, 2s);
  // Woken by the send's ring, not found by the service's safety recheck (1 s), which is first
  // armed when the receive starts: when the client's request came soon enough for the two to
  // be told apart (every run but a very loaded one), the loan came before the recheck could.
  const auto safety_recheck = RuntimeOptions{}.safety_recheck;
  if (start - received_from < safety_recheck / 2) {
    EXPECT_LT(loaned - received_from, safety_recheck);
  }
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(AsioLoanTest, CancellationSlotAbortsAWaitingLoanAndTakesNothing) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  HeldLoanStream stream = held_loan_stream(client, server, 2);

  asio::io_context io;
  asio::cancellation_signal cancel;
  std::error_code seen;
  bool called = false;
  floe::async_loan(
      stream.active,
      asio::bind_cancellation_slot(cancel.slot(),
                                   asio::bind_executor(io, [&](std::error_code e, U64Active::Loan) {
                                     seen = e;
                                     called = true;
                                   })));
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  run_bounded(io);
  EXPECT_TRUE(called);
  EXPECT_EQ(seen, asio::error::operation_aborted);
  EXPECT_EQ(service.usage().response_chunks_in_use, 1u) << "the aborted loan took a chunk";

  // Nothing waits any more: the held response is the one the client gets.
  **stream.held = 5;
  EXPECT_TRUE(std::move(*stream.held).send());
  EXPECT_EQ(receive_within(stream.pending)->payload(), 5u);
}

TEST_F(AsioLoanTest, SliceLoanTooLongFailsAtOnceAndOneWithinTheMaxWaits) {
  auto service = node.service_builder("Test/AsioLoanSlices")
                     .request_response<std::uint64_t, Slice<std::uint64_t>>()
                     .response_max_slice_len(16)
                     .max_loaned_responses_per_request(1)
                     .create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  auto active = receive_within(server);
  ASSERT_TRUE(active.has_value());
  using Loan = std::remove_reference_t<decltype(*active)>::Loan;
  std::optional<Loan> held = active->loan_slice(1);

  asio::io_context io;
  std::error_code too_long;
  std::size_t loaned_size = 0;
  Clock::duration waited{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto start = Clock::now();  // before this io_context's first floe operation
        auto [error, empty] = co_await floe::async_loan_slice(
            *active, 17, asio::experimental::as_tuple(use_awaitable));
        too_long = error;
        asio::steady_timer timer(io, 20ms);
        timer.async_wait([&](std::error_code) { held.reset(); });
        auto response = co_await floe::async_loan_slice(*active, 16, use_awaitable);
        waited = Clock::now() - start;
        loaned_size = response.size();
        for (std::size_t i = 0; i < response.size(); ++i)
          response.payload()[i] = i;
        EXPECT_TRUE(std::move(response).send());
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(too_long, Errc::exceeds_max_slice_len);
  EXPECT_EQ(loaned_size, 16u);
  // The recheck (1 s) is first armed by the first of these loans: a loan ended sooner was woken
  // by the ring.
  EXPECT_LT(waited, RuntimeOptions{}.safety_recheck - 100ms) << "the loan given back did not ring";
  auto response = receive_within(pending);
  ASSERT_TRUE(response.has_value());
  ASSERT_EQ(response->payload().size(), 16u);
  for (std::size_t i = 0; i < 16; ++i)
    EXPECT_EQ(response->payload()[i], i);
}

TEST_F(AsioLoanTest, ShutdownWithAPendingLoanWhoseHandlerOwnsTheActiveRequest) {
  // Destroying the handler at shutdown destroys the ActiveRequest, which cancels what waits on
  // its stream: the loan being destroyed must no longer be among them.
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  int invoked = 0;
  {
    asio::io_context io;
    auto received = receive_within(server);
    ASSERT_TRUE(received.has_value());
    auto active = std::make_shared<U64Active>(std::move(*received));
    std::optional<U64Active::Loan> held = active->loan();
    auto& request = *active;
    floe::async_loan(request,
                     asio::bind_executor(io, [&invoked, keep = std::move(active)](
                                                 std::error_code, U64Active::Loan) { ++invoked; }));
    io.poll();  // the loan waits for the held one
    EXPECT_EQ(invoked, 0);
    **held = 4;
    EXPECT_TRUE(std::move(*held).send());
    // Not polled again: the io_context goes with the loan still pending.
  }
  EXPECT_EQ(invoked, 0);
  // The stream ended with the ActiveRequest; what was sent is still there, no chunk is lost.
  EXPECT_EQ(pending.try_receive()->payload(), 4u);
  EXPECT_FALSE(pending.is_connected());
}

}  // namespace
}  // namespace floe::test
