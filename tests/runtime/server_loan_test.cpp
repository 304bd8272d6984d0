// co_await active.async_loan() / async_loan_slice(n): a server's loan that waits while its
// request has max_loaned_responses_per_request responses loaned, woken when one is sent or
// given back; several at once on one loop, the ActiveRequest or the Server going mid-wait,
// cancellation. The clients that check what arrives are real processes.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

/// A service whose server may hold one response loaned per request: a second loan waits. (In
/// a floe::Runtime the task that sends or drops the held response runs in the loop, which looks
/// at its waiting operations before it sleeps; the ring that sending or dropping makes is for
/// loops that do not, and is checked in tests/asio/loan_test.cpp and the Python tests.)
class ServerLoanTest : public AsyncServiceTest {
 protected:
  auto one_loan_service() { return builder().max_loaned_responses_per_request(1).create(); }

  /// Awaits a loan of `active` (at most 10 s), writes `value` in it and sends it.
  static Task<void> loan_and_send(U64Active& active, std::uint64_t value) {
    auto response = co_await with_timeout(active.async_loan(), 10s);
    *response = value;
    EXPECT_TRUE(std::move(response).send());
  }
};

TEST_F(ServerLoanTest, AwaitedLoanWaitsUntilTheLoanedResponseIsSent) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  ChildProcess client = client_expecting({7}, [](std::uint64_t r) {
    return std::vector<std::uint64_t>{r * 10, r * 10 + 1};
  });
  auto active = receive_within(server);
  ASSERT_TRUE(active.has_value());
  std::optional<U64Active::Loan> held = active->loan();
  **held = active->payload() * 10;
  EXPECT_EQ(error_of([&] { (void)active->loan(); }), Errc::exceeds_max_loans);

  Runtime runtime(rung_only);
  Clock::duration waited{};
  runtime.spawn([&]() -> Task<void> {
    const auto start = Clock::now();
    auto response = co_await with_timeout(active->async_loan(), 10s);
    waited = Clock::now() - start;
    EXPECT_EQ(*response, 0u) << "async_loan does not value-initialize the payload";
    *response = active->payload() * 10 + 1;
    EXPECT_TRUE(std::move(response).send());
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(50ms);
    EXPECT_TRUE(std::move(*held).send());
  });
  runtime.run();
  EXPECT_GE(waited, 40ms);
  EXPECT_LT(waited, 5s);
  EXPECT_GE(runtime.stats().sleeps, 1u) << "the loan did not wait asleep";
  active.reset();
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(ServerLoanTest, ALoanGivenBackUnsentWakesTheAwaitedLoan) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  ChildProcess client =
      client_expecting({3}, [](std::uint64_t r) { return std::vector<std::uint64_t>{r}; });
  auto active = receive_within(server);
  ASSERT_TRUE(active.has_value());
  std::optional<U64Active::Loan> held = active->loan();

  Runtime runtime(rung_only);
  runtime.spawn(loan_and_send(*active, active->payload()));
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(30ms);
    held.reset();  // given back, never sent
  });
  runtime.run();
  active.reset();
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(ServerLoanTest, SeveralLoansWaitAtOnceOnOneLoopAcrossTwoRequests) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  constexpr std::uint64_t kWaiters = 3;
  // Each request: the held response (r * 10 + 9) and one per waiting loan (r * 10 + i).
  ChildProcess client = client_expecting({1, 2}, [](std::uint64_t r) {
    std::vector<std::uint64_t> wanted{r * 10 + 9};
    for (std::uint64_t i = 0; i < kWaiters; ++i)
      wanted.push_back(r * 10 + i);
    return wanted;
  });
  std::vector<U64Active> actives;
  for (int i = 0; i < 2; ++i) {
    auto active = receive_within(server);
    ASSERT_TRUE(active.has_value());
    actives.push_back(std::move(*active));
  }
  std::vector<std::optional<U64Active::Loan>> held;
  for (auto& active : actives)
    held.emplace_back(active.loan());

  Runtime runtime(rung_only);
  int completed = 0;
  int completed_before_release = -1;
  for (auto& active : actives) {
    for (std::uint64_t i = 0; i < kWaiters; ++i) {
      runtime.spawn([&, i]() -> Task<void> {
        auto response = co_await with_timeout(active.async_loan(), 10s);
        *response = active.payload() * 10 + i;
        co_await sleep_for(2ms);  // holds it a while: the other waiters keep waiting
        EXPECT_TRUE(std::move(response).send());
        ++completed;
      });
    }
  }
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(50ms);
    completed_before_release = completed;
    for (std::size_t r = 0; r < held.size(); ++r) {
      **held[r] = actives[r].payload() * 10 + 9;
      EXPECT_TRUE(std::move(*held[r]).send());
    }
  });
  runtime.run();
  EXPECT_EQ(completed_before_release, 0) << "a loan did not wait for the held one";
  EXPECT_EQ(completed, 6);
  actives.clear();
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(ServerLoanTest, DroppingTheActiveRequestCancelsTheAwaitedLoan) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  // The held response, sent after the ActiveRequest went, is the stream's last.
  ChildProcess client =
      client_expecting({4}, [](std::uint64_t r) { return std::vector<std::uint64_t>{r}; });
  std::optional<U64Active> active = receive_within(server);
  ASSERT_TRUE(active.has_value());
  U64Active::Loan held = active->loan();
  *held = active->payload();

  Runtime runtime(rung_only);
  Errc waited_with{};
  runtime.spawn([&]() -> Task<void> {
    waited_with = co_await error_of_await(with_timeout(active->async_loan(), 10s));
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(30ms);
    active.reset();
  });
  runtime.run();
  EXPECT_EQ(waited_with, Errc::cancelled);
  EXPECT_TRUE(std::move(held).send());  // the stream ends with it
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u);
}

TEST_F(ServerLoanTest, DroppingTheServerLeavesTheAwaitedLoanWaiting) {
  auto service = one_loan_service();
  std::optional<U64Server> server = service.server_builder().create();
  ChildProcess client = client_expecting({5}, [](std::uint64_t r) {
    return std::vector<std::uint64_t>{r * 10, r * 10 + 1};
  });
  auto active = receive_within(*server);
  ASSERT_TRUE(active.has_value());
  std::optional<U64Active::Loan> held = active->loan();
  **held = active->payload() * 10;

  Runtime runtime(rung_only);
  runtime.spawn(loan_and_send(*active, active->payload() * 10 + 1));
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    server.reset();  // the ActiveRequest holds the port: the loan keeps waiting
    co_await sleep_for(20ms);
    EXPECT_TRUE(std::move(*held).send());
  });
  runtime.run();
  active.reset();
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(ServerLoanTest, StopTokenAndTimeoutEndTheWaitTakingNothing) {
  auto service = one_loan_service();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  HeldLoanStream stream = held_loan_stream(client, server, 1);

  Runtime runtime(rung_only);
  std::stop_source stop;
  Errc stopped{};
  auto waiting = [&]() -> Task<void> {
    stopped =
        co_await error_of_await(with_timeout(stream.active.async_loan(stop.get_token()), 10s));
  };
  auto request_stop = [&]() -> Task<void> {
    co_await sleep_for(20ms);
    stop.request_stop();
  };
  runtime.spawn(waiting());
  runtime.spawn(request_stop());
  runtime.run();
  EXPECT_EQ(stopped, Errc::cancelled);
  EXPECT_EQ(runtime.block_on(error_of_await(with_timeout(stream.active.async_loan(), 30ms))),
            Errc::timed_out);
  EXPECT_EQ(service.usage().response_chunks_in_use, 1u) << "a cancelled loan took a chunk";

  stream.held.reset();
  auto loaned = runtime.block_on([&]() -> Task<U64Active::Loan> {
    co_return co_await with_timeout(stream.active.async_loan(), 1s);  // free now: at once
  }());
  *loaned = 8;
  EXPECT_TRUE(std::move(loaned).send());
  EXPECT_EQ(receive_within(stream.pending)->payload(), 8u);
}

/// Requests of up to 64 bytes answered by up to 64 numbers, one response loaned at a time.
auto one_loan_slices(Node& node) {
  return node.service_builder("Test/ServerLoanSlices")
      .request_response<Slice<std::byte>, Slice<std::uint64_t>>()
      .request_max_slice_len(64)
      .response_max_slice_len(64)
      .max_loaned_responses_per_request(1)
      .create();
}

TEST_F(ServerLoanTest, AwaitedSliceLoanWaitsAndATooLongOneFailsAtOnce) {
  auto service = one_loan_slices(node);
  auto server = service.server_builder().initial_max_slice_len(32).create();
  // The client, in another process: a request of 3 bytes, answered by 32 numbers (100 + i),
  // then by 3 (each byte of the request), each checked element by element.
  ChildProcess client([&] {
    Node other = Node::create("client", config);
    auto c = other.service_builder("Test/ServerLoanSlices")
                 .request_response<Slice<std::byte>, Slice<std::uint64_t>>()
                 .open()
                 .client_builder()
                 .create();
    Runtime runtime(asleep);
    return runtime.block_on([&]() -> Task<int> {
      const std::array<std::byte, 3> bytes{std::byte{1}, std::byte{2}, std::byte{3}};
      auto pending = c.send_copy(bytes);
      std::vector<std::vector<std::uint64_t>> seen;
      while (auto response = co_await with_timeout(pending.receive(), 10s))
        seen.emplace_back(response->payload().begin(), response->payload().end());
      FLOE_CHILD_CO_CHECK(seen.size() == 2);
      FLOE_CHILD_CO_CHECK(seen[0].size() == 32 && seen[1].size() == 3);
      for (std::uint64_t i = 0; i < 32; ++i)
        FLOE_CHILD_CO_CHECK(seen[0][i] == 100 + i);
      for (std::uint64_t i = 0; i < 3; ++i)
        FLOE_CHILD_CO_CHECK(seen[1][i] == i + 1);
      co_return 0;
    }());
  });
  auto active = receive_within(server);
  ASSERT_TRUE(active.has_value());
  using Active = std::remove_reference_t<decltype(*active)>;
  std::optional<Active::Loan> held = active->loan_slice_uninit(32);
  for (std::uint64_t i = 0; i < 32; ++i)
    held->payload()[i] = 100 + i;

  Runtime runtime(rung_only);
  // A slice above the server's max fails at once although a loan within it would wait.
  const auto start = Clock::now();
  EXPECT_EQ(runtime.block_on(error_of_await(with_timeout(active->async_loan_slice(33), 5s))),
            Errc::exceeds_max_slice_len);
  EXPECT_LT(Clock::now() - start, 1s);
  runtime.spawn([&]() -> Task<void> {
    auto response = co_await with_timeout(active->async_loan_slice(3), 10s);
    EXPECT_EQ(response.size(), 3u);
    EXPECT_TRUE(std::all_of(response.payload().begin(), response.payload().end(),
                            [](std::uint64_t v) { return v == 0; }))
        << "async_loan_slice does not value-initialize the elements";
    for (std::size_t i = 0; i < 3; ++i)
      response.payload()[i] = std::to_integer<std::uint64_t>(active->payload()[i]);
    EXPECT_TRUE(std::move(response).send());
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(30ms);
    EXPECT_TRUE(std::move(*held).send());
  });
  runtime.run();
  active.reset();
  EXPECT_EQ(client.wait(), 0);
}

}  // namespace
}  // namespace floe::test
