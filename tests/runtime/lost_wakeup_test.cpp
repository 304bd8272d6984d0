// A lost wake-up never lasts forever. Wake-ups rely on a port's `waiting` flag in shared memory,
// which any process of the service can write: a peer that clears it makes the next sender skip
// the doorbell. The loops (floe::Runtime and the Asio adapter) look at their operations again
// after RuntimeOptions::safety_recheck however quiet the doorbell stays; these tests make such a
// peer in another process and show that this bound, and nothing else, is what delivers the
// request.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "floe/asio.hpp"
#include "registry/names.hpp"
#include "segment/view.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

class LostWakeup : public U64ServiceTest {
 protected:
  /// In a forked child: waits until the service's one server sleeps (its `waiting` flag set),
  /// clears the flag as a faulty or hostile peer would, and sends a request, which therefore
  /// does not ring. Checks that the doorbell indeed did not move, then stays alive (its exit
  /// would wake the server through its pidfd) until `done`.
  int clear_waiting_then_send(const Signal& done) {
    auto client = open_as("peer").client_builder().create();
    const std::string object = detail::service_object_name(config.domain, "Test/Service");
    const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR | O_CLOEXEC);
    FLOE_CHILD_CHECK(fd >= 0);
    const off_t size = ::lseek(fd, 0, SEEK_END);
    void* mapping =
        ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    FLOE_CHILD_CHECK(mapping != MAP_FAILED);
    auto* base = static_cast<std::byte*>(mapping);
    const detail::ServiceHeader& header = *reinterpret_cast<detail::ServiceHeader*>(base);
    const auto layout =
        detail::SegmentLayout::compute(header.limits, header.request, header.response,
                                       header.request_user_header, header.response_user_header);
    FLOE_CHILD_CHECK(layout.has_value());
    const detail::SegmentView segment(base, *layout);
    detail::PortRecord* server = nullptr;
    for (std::uint32_t s = 0; s < header.limits.max_servers; ++s) {
      if (segment.server(s)->state == static_cast<std::uint32_t>(detail::SlotState::active))
        server = segment.server(s);
    }
    FLOE_CHILD_CHECK(server != nullptr);
    std::atomic_ref<std::uint32_t> waiting(server->waiting);
    std::atomic_ref<std::uint32_t> doorbell(server->doorbell);
    FLOE_CHILD_CHECK(eventually([&] { return waiting.load() == 1; }, 5s));
    const std::uint32_t rung = doorbell.load();
    waiting.store(0);
    auto pending = client.send_copy(7);
    FLOE_CHILD_CHECK(doorbell.load() == rung);  // the send did not ring
    FLOE_CHILD_CHECK(done.wait(15s) == 1);
    return 0;
  }

  /// How long a receive in a sleeping Runtime with `safety_recheck`, bounded by `timeout`,
  /// took while the peer above sent it a request without ringing.
  Clock::duration receive_after_lost_wakeup(std::chrono::nanoseconds safety_recheck,
                                            std::chrono::milliseconds timeout) {
    auto service = builder().create();
    auto server = service.server_builder().create();
    Signal done;
    ChildProcess peer([&] { return clear_waiting_then_send(done); });
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
    const auto elapsed = Clock::now() - start;
    done.notify();
    EXPECT_EQ(peer.wait(10s), 0);
    // The timeout wakes the loop too, and a receive looks at its queue before at its
    // deadline: the request arrives either way, only late.
    EXPECT_EQ(payload, std::optional<std::uint64_t>(7));
    return elapsed;
  }
};

TEST_F(LostWakeup, ARuntimeLooksAgainAfterSafetyRecheck) {
  const auto elapsed = receive_after_lost_wakeup(300ms, 5s);
  // At the first or second recheck, depending on how soon the peer has sent.
  EXPECT_LT(elapsed, 300ms + 1s);
}

TEST_F(LostWakeup, WithoutSafetyRecheckOnlyTheTimeoutEndsTheSleep) {
  // The control: the bound above is what delivered the request.
  const auto elapsed = receive_after_lost_wakeup(0ns, 2s);
  EXPECT_GE(elapsed, 2s - 50ms);
}

TEST_F(LostWakeup, TheAsioAdapterLooksAgainAfterSafetyRecheck) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Signal done;
  ChildProcess peer([&] { return clear_waiting_then_send(done); });
  asio::io_context io;
  const auto start = Clock::now();
  std::optional<Clock::duration> received_after;
  std::optional<std::uint64_t> payload;
  async_receive(io.get_executor(), server, [&](std::error_code error, auto active) {
    received_after = Clock::now() - start;
    if (!error) payload = active.payload();
  });
  // Bounded: without the recheck nothing would ever end this run.
  io.run_for(5s);
  const auto ran = Clock::now() - start;
  done.notify();
  EXPECT_EQ(peer.wait(10s), 0);
  ASSERT_TRUE(received_after.has_value());
  EXPECT_EQ(payload, std::optional<std::uint64_t>(7));
  const auto safety_recheck = RuntimeOptions{}.safety_recheck;
  EXPECT_LT(*received_after, safety_recheck + 1s);
  // The recheck timer is cancelled once nothing is pending: run() returns at once.
  EXPECT_LT(ran - *received_after, 500ms);
}

}  // namespace
}  // namespace floe::test
