// A lost wake-up never lasts forever. Wake-ups rely on a port's `waiting` flag in shared memory,
// which any process of the service can write: a peer that clears it makes the next sender skip
// the doorbell. The loops (floe::Runtime and the Asio adapter) look at their operations again
// after RuntimeOptions::safety_recheck however quiet the doorbell stays; these tests make such a
// peer in another process and show that this bound, and nothing else, is what delivers the
// request.

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "floe/asio.hpp"
#include "support/fixture.hpp"
#include "support/port_records.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

class LostWakeup : public U64ServiceTest {
 protected:
  /// In a forked child: waits until the service's one server sleeps (its `waiting` flag set,
  /// and the parent's main thread, which runs its loop, asleep in the kernel), clears the flag
  /// as a faulty or hostile peer would, and sends a request (noting when in `sent`), which
  /// therefore does not ring. Checks that the doorbell indeed did not move, then stays alive
  /// (its exit would wake the server through its pidfd) until `done`.
  int clear_waiting_then_send(const Signal& done, const SharedTimePoint& sent) {
    auto client = open_as("peer").client_builder().create();
    const MappedService mapped(config, "Test/Service");
    detail::PortRecord* server = &mapped.active_server();
    std::atomic_ref<std::uint32_t> waiting = waiting_flag(*server);
    std::atomic_ref<std::uint32_t> doorbell(server->doorbell);
    FLOE_CHILD_CHECK(
        eventually([&] { return waiting.load() == 1 && sleeping_in_kernel(::getppid()); }, 10s));
    const std::uint32_t rung = doorbell.load();
    waiting.store(0);
    sent.set_now();
    auto pending = client.send_copy(7);
    FLOE_CHILD_CHECK(doorbell.load() == rung);  // the send did not ring
    FLOE_CHILD_CHECK(done.wait(15s) == 1);
    return 0;
  }

  /// When a receive in a sleeping Runtime with `safety_recheck`, bounded by `timeout`, began,
  /// when the peer above sent it a request without ringing, and when the receive ended.
  struct Times {
    Clock::time_point start, sent, ended;
  };
  Times receive_after_lost_wakeup(std::chrono::nanoseconds safety_recheck,
                                  std::chrono::milliseconds timeout) {
    auto service = builder().create();
    auto server = service.server_builder().create();
    Signal done;
    SharedTimePoint sent;
    ChildProcess peer([&] { return clear_waiting_then_send(done, sent); });
    Runtime runtime(RuntimeOptions{.spin_budget = {}, .safety_recheck = safety_recheck});
    const auto start = Clock::now();
    std::optional<std::uint64_t> payload;
    runtime.block_on([&]() -> Task<void> {
      try {
        auto active = co_await with_timeout(server.receive(), timeout);
        payload = active.payload();
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::timed_out);
      }
    }());
    const auto ended = Clock::now();
    done.notify();
    EXPECT_EQ(peer.wait(10s), 0);
    // The timeout wakes the loop too, and a receive looks at its queue before at its
    // deadline: the request arrives either way, only late.
    EXPECT_EQ(payload, std::optional<std::uint64_t>(7));
    return Times{start, sent.get(), ended};
  }
};

TEST_F(LostWakeup, ARuntimeLooksAgainAfterSafetyRecheck) {
  const auto timeout = 10s;
  const Times t = receive_after_lost_wakeup(300ms, timeout);
  // At the next recheck after the send (the loop slept before it), with room for a loaded
  // machine; and not at the timeout.
  EXPECT_LT(t.ended - t.sent, 300ms + 1s);
  EXPECT_LT(t.ended - t.start, timeout);
}

TEST_F(LostWakeup, WithoutSafetyRecheckOnlyTheTimeoutEndsTheSleep) {
  // The control: the bound above is what delivered the request. The timeout is long enough for
  // the peer to have sent well before it, however slowly it started.
  const auto timeout = 5s;
  const Times t = receive_after_lost_wakeup(0ns, timeout);
  EXPECT_LT(t.sent - t.start, timeout);
  EXPECT_GE(t.ended - t.start, timeout - 50ms);
}

TEST_F(LostWakeup, TheAsioAdapterLooksAgainAfterSafetyRecheck) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Signal done;
  SharedTimePoint sent;
  ChildProcess peer([&] { return clear_waiting_then_send(done, sent); });
  asio::io_context io;
  std::optional<Clock::time_point> received;
  std::optional<std::uint64_t> payload;
  async_receive(io.get_executor(), server, [&](std::error_code error, auto active) {
    received = Clock::now();
    if (!error) payload = active.payload();
  });
  // Bounded: without the recheck nothing would ever end this run.
  io.run_for(10s);
  const auto ran = Clock::now();
  done.notify();
  EXPECT_EQ(peer.wait(10s), 0);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(payload, std::optional<std::uint64_t>(7));
  // At the next recheck after the send, with room for a loaded machine.
  const auto safety_recheck = RuntimeOptions{}.safety_recheck;
  EXPECT_LT(*received - sent.get(), safety_recheck + 1s);
  // The recheck timer is cancelled once nothing is pending: run() returns at once.
  EXPECT_LT(ran - *received, 500ms);
}

}  // namespace
}  // namespace floe::test
