// Another process of the same user shrinks a live service's object (ftruncate). Every process
// mapping it used to die of SIGBUS; now each gets Errc::corrupted from its next operation that
// touches what was cut off, or at its next liveness check, and the next opener replaces it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "registry/names.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

using namespace std::chrono_literals;

/// In a child: repeats `step` for up to 20 s. 0 once it throws Errc::corrupted, 2 for another
/// error, 1 if nothing ever told it.
template <typename Step>
int until_corrupted(Step step) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  try {
    while (std::chrono::steady_clock::now() < until)
      step();
  } catch (const Error& e) {
    return e.code() == Errc::corrupted ? 0 : 2;
  }
  return 1;
}

class ShrunkSegmentTest : public U64ServiceTest {
 protected:
  /// One request and its answer through a fresh server and client of `service`.
  template <typename Service>
  void expect_round_trip(Service& service) {
    auto server = service.server_builder().create();
    auto client = service.client_builder().create();
    auto pending = client.send_copy(5);
    auto active = receive_within(server);
    ASSERT_TRUE(active.has_value());
    active->send_copy(6);
    auto response = receive_within(pending);
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->payload(), 6u);
  }

  /// In a child: a server asleep in a runtime (safety recheck 0.1 s), receiving whatever comes,
  /// until the damage is reported. 0 for Errc::corrupted.
  int serve_asleep_until_corrupted(Signal& ready) {
    auto remote = open_as("waiter");
    auto port = remote.server_builder().create();
    Runtime runtime(RuntimeOptions{.spin_budget = {}, .safety_recheck = 100ms});
    ready.notify();
    return runtime.block_on([&]() -> Task<int> {
      try {
        for (;;)
          co_await with_timeout(port.receive(), 20s);
      } catch (const Error& e) {
        co_return e.code() == Errc::corrupted ? 0 : 2;
      }
    }());
  }

  std::string object_path() const {
    return "/dev/shm" + detail::service_object_name(config.domain, "Test/Service");
  }
};

TEST_F(ShrunkSegmentTest, PeersGetCorruptedInsteadOfSigbusAndTheServiceIsReplacedAtOnce) {
  auto service = builder().max_response_buffer_size(4).create();
  Signal server_ready, client_ready, waiter_ready;

  // Busy on both ends: a server answering and a client sending as fast as they can.
  ChildProcess server([&] {
    auto remote = open_as("server");
    auto port = remote.server_builder().create();
    server_ready.notify();
    return until_corrupted([&] {
      if (auto active = port.try_receive()) active->send_copy(active->payload() + 1);
    });
  });
  ChildProcess client([&] {
    auto remote = open_as("client");
    auto port = remote.client_builder().create();
    client_ready.notify();
    return until_corrupted([&] {
      auto pending = port.send_copy(1);
      while (pending.is_connected() && !pending.try_receive()) {
      }
    });
  });
  // Asleep in a runtime: the safety recheck looks at its receive, and the damage is reported.
  ChildProcess waiter([&] { return serve_asleep_until_corrupted(waiter_ready); });
  ASSERT_EQ(server_ready.wait(), 1);
  ASSERT_EQ(client_ready.wait(), 1);
  ASSERT_EQ(waiter_ready.wait(), 1);
  std::this_thread::sleep_for(50ms);  // a few thousand round trips

  ASSERT_EQ(::truncate(object_path().c_str(), 0), 0);
  EXPECT_EQ(server.wait(), 0) << "a busy server: Errc::corrupted, not SIGBUS (128 + 7)";
  EXPECT_EQ(client.wait(), 0) << "a busy client: Errc::corrupted, not SIGBUS";
  EXPECT_EQ(waiter.wait(), 0) << "an awaiting server: Errc::corrupted within the recheck";

  // This process holds it too, and survives touching it.
  auto port = service.client_builder().create();  // touches the port records: absorbed
  EXPECT_EQ(error_of([&] { (void)port.send_copy(1); }), Errc::corrupted);
  // Damaged while held: replaced at once all the same, and the new one works.
  Node newcomer = Node::create("newcomer", config);
  auto replaced = builder(newcomer).open_or_create();
  expect_round_trip(replaced);
}

TEST_F(ShrunkSegmentTest, APartialShrinkIsNoticedAtTheNextCheckByThoseWhoNeverTouchTheCutPart) {
  auto service = builder().max_response_buffer_size(4).create();
  Signal waiter_ready, streamer_ready, streaming;
  // Asleep in a runtime, touching only its own records: the safety recheck finds the shrink.
  ChildProcess waiter([&] { return serve_asleep_until_corrupted(waiter_ready); });
  // Streaming to the client while it is connected: is_connected() finds the shrink.
  ChildProcess streamer([&] {
    auto remote = open_as("streamer");
    auto port = remote.server_builder().create();
    streamer_ready.notify();
    auto active = receive_within(port);
    FLOE_CHILD_CHECK(active.has_value());
    streaming.notify();
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (active->is_connected() && std::chrono::steady_clock::now() < until) {
      active->send_copy(7);
      std::this_thread::sleep_for(10ms);
    }
    return active->is_connected() ? 1 : 0;
  });
  ASSERT_EQ(waiter_ready.wait(), 1);
  ASSERT_EQ(streamer_ready.wait(), 1);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  ASSERT_EQ(streaming.wait(), 1);
  ASSERT_TRUE(receive_within(pending).has_value());

  // Only the last page goes: nobody here touches it.
  const std::string path = object_path();
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  ASSERT_EQ(::truncate(path.c_str(), status.st_size - 4096), 0);
  EXPECT_TRUE(eventually([&] { return !pending.is_connected(); }, 3s));
  EXPECT_EQ(error_of([&] { (void)pending.try_receive(); }), Errc::corrupted);
  EXPECT_EQ(waiter.wait(), 0) << "an awaiting server: Errc::corrupted within the recheck";
  EXPECT_EQ(streamer.wait(), 0) << "a streaming server: is_connected() turned false";
  Node newcomer = Node::create("newcomer", config);
  auto replaced = builder(newcomer).open_or_create();
  expect_round_trip(replaced);
}

TEST_F(ShrunkSegmentTest, AShrunkServiceNobodyHoldsIsReplacedByTheNextCreator) {
  {
    auto service = builder().create();
    ChildProcess holder([&] {
      auto remote = open_as("holder");
      ::raise(SIGKILL);
      return 0;
    });
    ASSERT_EQ(holder.wait(), 128 + SIGKILL);
    ASSERT_EQ(::truncate(object_path().c_str(), 100), 0);
    // The last user leaves without touching what was cut off: the name goes with it.
  }
  auto service = builder().open_or_create();
  expect_round_trip(service);
}

}  // namespace
}  // namespace floe::test
