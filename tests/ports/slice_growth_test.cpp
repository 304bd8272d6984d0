// Slices that grow (floe::AllocationStrategy) between real processes: a client growing its
// requests, a server its responses, beyond the room the service segment has inline; the fixed
// strategy still refusing; best_fit and power_of_two sizing; an old data segment unlinked once
// nothing in it is held; forged data segment numbers refused without a read out of bounds; a data
// segment shrunk under its reader; a writer killed at any point of growing.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "segment/in_memory_segment.hpp"
#include "support/fixture.hpp"
#include "support/shm_objects.hpp"
#include "support/slice_elements.hpp"

namespace floe::test {
namespace {

constexpr std::uint64_t kInlineBytes = 64;   // request elements the service segment holds
constexpr std::uint64_t kInlineSamples = 4;  // response elements the service segment holds

std::uint64_t size_of_object(const std::string& file_name) {
  struct stat status {};
  if (::stat(("/dev/shm/" + file_name).c_str(), &status) != 0) return 0;
  return static_cast<std::uint64_t>(status.st_size);
}

/// Whether a data segment name ends in "<c|s><slot>-<generation>-<number>" of `writer` and
/// `number`.
bool names(const std::string& file_name, char writer, std::uint32_t number) {
  const auto dot = file_name.rfind('.');
  const auto dash = file_name.rfind('-');
  return dot != std::string::npos && dash != std::string::npos && file_name[dot + 1] == writer &&
         file_name.substr(dash + 1) == std::to_string(number);
}

std::uint64_t one_sample(std::uint64_t) {
  return 1;
}
std::uint64_t as_many_samples(std::uint64_t length) {
  return length;
}

class SliceGrowthTest : public ::testing::Test {
 protected:
  Config config = small_slice_config();
  Node node = Node::create("growth-test", config);

  auto builder(Node& n) {
    return n.service_builder("Test/Growth")
        .request_response<Slice<std::byte>, Slice<Sample>>()
        .request_max_slice_len(kInlineBytes)
        .response_max_slice_len(kInlineSamples);
  }
  auto open_as(const char* node_name) {
    Node other = Node::create(node_name, config);
    return builder(other).open();
  }

  /// A server in another process answering `count` requests: each must hold the bytes of seed
  /// = its length; the answer is `answer(length)` samples of seed = the length, in a server
  /// growing by `strategy`.
  ChildProcess server_process(int count, AllocationStrategy strategy,
                              std::uint64_t (*answer)(std::uint64_t)) {
    return started([&, count, strategy, answer](const Signal& ready) {
      auto server = open_as("server").server_builder().allocation_strategy(strategy).create();
      ready.notify();
      for (int i = 0; i < count; ++i) {
        auto active = receive_within(server);
        FLOE_CHILD_CHECK(active);
        const std::span<const std::byte> request = active->payload();
        FLOE_CHILD_CHECK(bytes_follow(request, request.size()));
        auto response = active->loan_slice_uninit(answer(request.size()));
        fill_samples(response.payload(), request.size());
        FLOE_CHILD_CHECK(std::move(response).send());
      }
      return 0;
    });
  }

  /// Sends requests of kInlineBytes + 1, + 2, ... + `count` bytes from `client` (best_fit: a
  /// growth each) to a server process answering each with one sample; each is let go of before
  /// the next is loaned.
  template <typename GrowingClient>
  void send_growing_requests(GrowingClient& client, int count) {
    ChildProcess server = server_process(count, AllocationStrategy::fixed, one_sample);
    for (std::uint64_t n = kInlineBytes + 1; n <= kInlineBytes + count; ++n) {
      auto request = client.loan_slice_uninit(n);
      fill_bytes(request.payload(), n);
      auto pending = std::move(request).send();
      auto response = receive_within(pending);
      ASSERT_TRUE(response) << n;
      EXPECT_TRUE(samples_follow(response->payload(), n));
    }
    EXPECT_EQ(server.wait(), 0);
  }
};

TEST_F(SliceGrowthTest, FixedStrategyStillRefuses) {
  auto service = builder(node).create();
  auto client = service.client_builder().create();
  EXPECT_EQ(error_of([&] { (void)client.loan_slice(kInlineBytes + 1); }),
            Errc::exceeds_max_slice_len);
  auto capped = service.client_builder().initial_max_slice_len(8).create();
  EXPECT_EQ(error_of([&] { (void)capped.loan_slice(9); }), Errc::exceeds_max_slice_len);
  EXPECT_TRUE(data_segments(config).empty());
}

TEST_F(SliceGrowthTest, AClientGrowsItsRequests) {
  auto service = builder(node).create();
  const std::vector<std::uint64_t> lengths = {10, 8, 100, 30, 200, 129, 64, 1000};
  ChildProcess server =
      server_process(static_cast<int>(lengths.size()), AllocationStrategy::fixed, one_sample);
  auto client = service.client_builder()
                    .initial_max_slice_len(8)
                    .allocation_strategy(AllocationStrategy::power_of_two)
                    .create();
  for (const std::uint64_t n : lengths) {
    auto request = client.loan_slice_uninit(n);
    ASSERT_EQ(request.payload().size(), n);
    fill_bytes(request.payload(), n);
    auto pending = std::move(request).send();
    EXPECT_TRUE(bytes_follow(*pending, n)) << "the client's own view of its request";
    auto response = receive_within(pending);
    ASSERT_TRUE(response) << n;
    EXPECT_TRUE(samples_follow(response->payload(), n));
    EXPECT_EQ(response->payload().size(), 1u);
  }
  EXPECT_EQ(server.wait(), 0);
  // 100 -> 128, 200 -> 256, 1000 -> 1024; within 64 inline; 129 fits 256. Growing to 1024
  // first freed the drained 128 one; the 256 one was the newest then, so it is left.
  const auto segments = data_segments(config);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_TRUE(names(segments[0], 'c', 2) && names(segments[1], 'c', 3)) << segments[1];
  EXPECT_EQ(size_of_object(segments[1]),
            4096 + 1024 * std::uint64_t{config.request_response.max_loaned_requests +
                                        config.request_response.max_active_requests_per_client});
}

TEST_F(SliceGrowthTest, AServerGrowsItsResponses) {
  auto service = builder(node).create();
  const std::vector<std::uint64_t> lengths = {1, 4, 5, 3, 40, 17, 300};
  ChildProcess server = server_process(static_cast<int>(lengths.size()),
                                       AllocationStrategy::best_fit, as_many_samples);
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  for (const std::uint64_t n : lengths) {
    auto request = client.loan_slice_uninit(n);
    fill_bytes(request.payload(), n);
    auto pending = std::move(request).send();
    auto response = receive_within(pending);
    if (!response) {
      const int status = server.wait();
      std::string left;
      for (const auto& name : data_segments(config))
        left += name + " ";
      ADD_FAILURE() << n << ": no response; the server ended with " << status << "; " << left;
      return;
    }
    ASSERT_EQ(response->payload().size(), n);
    EXPECT_TRUE(samples_follow(response->payload(), n)) << n;
  }
  EXPECT_EQ(server.wait(), 0);
  // The server grew for 5, 40 and 300 samples, and unlinked what nothing referred to when it
  // closed: segments 1 and 2. Segment 3 stays (until the service is removed) if its last
  // response was still queued or held then, so that the client can map it; whether it was
  // depends on which process ran first. The client grew for its 300-byte request.
  const auto segments = data_segments(config);
  ASSERT_GE(segments.size(), 1u);
  ASSERT_LE(segments.size(), 2u);
  EXPECT_TRUE(names(segments[0], 'c', 1)) << segments[0];
  if (segments.size() == 2) {
    EXPECT_TRUE(names(segments[1], 's', 3)) << segments[1];
  }
}

TEST_F(SliceGrowthTest, BestFitAndPowerOfTwoSizeTheirSegments) {
  auto service = builder(node).create();
  const std::uint64_t slots = config.request_response.max_loaned_requests +
                              config.request_response.max_active_requests_per_client;
  auto best = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  {
    auto request = best.loan_slice(130);
    auto segments = data_segments(config);
    ASSERT_EQ(segments.size(), 1u);
    EXPECT_TRUE(names(segments[0], 'c', 1));
    EXPECT_EQ(size_of_object(segments[0]), 4096 + slots * 192) << "130 B in 64 B lines";
  }
  auto power =
      service.client_builder().allocation_strategy(AllocationStrategy::power_of_two).create();
  {
    auto request = power.loan_slice(130);
    const auto segments = data_segments(config);
    ASSERT_EQ(segments.size(), 2u);
    std::vector<std::uint64_t> sizes;
    for (const auto& name : segments)
      sizes.push_back(size_of_object(name));
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes[1], 4096 + slots * 256) << "130 -> 256";
  }
}

TEST_F(SliceGrowthTest, AnOldSegmentIsUnlinkedOnceDrainedAndAllOnClose) {
  auto service = builder(node).create();
  {
    auto client =
        service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
    auto held = client.loan_slice(100);       // segment 1, held
    { auto grown = client.loan_slice(200); }  // segment 2
    EXPECT_EQ(data_segments(config).size(), 2u);
    { auto dropped = std::move(held); }
    for (int i = 0; i < 70; ++i) {
      auto request = client.loan_slice(150);
      EXPECT_EQ(request.payload().size(), 150u);
    }
    const auto segments = data_segments(config);
    ASSERT_EQ(segments.size(), 1u) << "segment 1 drained, unlinked by the sweep";
    EXPECT_TRUE(names(segments[0], 'c', 2));
  }
  EXPECT_TRUE(data_segments(config).empty()) << "a closed port unlinks its own";
}

// Each loan 1 element longer than the last grows (best_fit) while the one before is held: the 9th
// live segment is refused, saying why, until a drained one is freed.
TEST_F(SliceGrowthTest, APortKeepsAtMostEightDataSegmentsAlive) {
  auto service = builder(node).max_loaned_requests(10).create();
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  std::vector<decltype(client.loan_slice(1))> held;
  for (std::uint64_t i = 1; i <= 8; ++i)
    held.push_back(client.loan_slice(kInlineBytes + i));
  EXPECT_EQ(data_segments(config).size(), 8u);
  EXPECT_EQ(error_of([&] { (void)client.loan_slice(kInlineBytes + 9); }),
            Errc::exceeds_max_slice_len);
  EXPECT_NE(message_of([&] { (void)client.loan_slice(kInlineBytes + 9); }).find("holds 8"),
            std::string::npos);
  held.erase(held.begin());  // segment 1 drained: the next growth frees it first
  auto grown = client.loan_slice(kInlineBytes + 9);
  EXPECT_EQ(grown.payload().size(), kInlineBytes + 9);
  const auto segments = data_segments(config);
  EXPECT_EQ(segments.size(), 8u);
  EXPECT_TRUE(std::none_of(segments.begin(), segments.end(),
                           [](const std::string& name) { return names(name, 'c', 1); }));
}

// Segment numbers are never reused in a port's life: after 255 growths the next is refused,
// saying what to do, and the newest segment still serves what fits it.
TEST_F(SliceGrowthTest, APortGrowsAtMost255Times) {
  auto service = builder(node).create();
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  for (std::uint64_t n = 1; n <= 255; ++n) {
    auto request = client.loan_slice_uninit(kInlineBytes + n);
    ASSERT_EQ(request.payload().size(), kInlineBytes + n);
  }
  EXPECT_NE(message_of([&] {
              (void)client.loan_slice_uninit(kInlineBytes + 256);
            }).find("grew 255 times"),
            std::string::npos);
  auto within = client.loan_slice_uninit(kInlineBytes + 255);
  EXPECT_EQ(within.payload().size(), kInlineBytes + 255);
  EXPECT_LE(data_segments(config).size(), 8u) << "drained segments are freed as it grows";
}

// Requests sent and answered, each longer than the last (best_fit: a growth each): their chunks
// come back to the client lazily, yet the old segments are freed, so growth goes on past 8.
TEST_F(SliceGrowthTest, GrowingWithEveryAnsweredRequestNeverPilesUpSegments) {
  auto service = builder(node).create();
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  send_growing_requests(client, 12);
  EXPECT_LE(data_segments(config).size(), 8u);
}

// A server process holding a request whose elements are in the client's first data segment is
// SIGKILLed: once it is reclaimed and the client let go of the request, the segment is freed.
TEST_F(SliceGrowthTest, AnOldSegmentAKilledServerHeldIsFreedAfterReclaim) {
  auto service = builder(node).create();
  Signal holding;
  ChildProcess server = started([&](const Signal& ready) {
    auto port = open_as("server").server_builder().create();
    ready.notify();
    auto active = receive_within(port);
    FLOE_CHILD_CHECK(active && bytes_follow(active->payload(), 100));
    holding.notify();
    return wait_to_be_killed();
  });
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  std::optional<decltype(client.send_copy(std::span<const std::byte>{}))> pending;
  {
    auto request = client.loan_slice_uninit(100);  // segment 1
    fill_bytes(request.payload(), 100);
    pending.emplace(std::move(request).send());
  }
  ASSERT_EQ(holding.wait(), 1);
  { auto grown = client.loan_slice(200); }  // segment 2, the newest
  server.kill();
  node.clean_up_dead_nodes();
  EXPECT_EQ(pending->end_reason(), StreamEnd::server_gone);
  pending.reset();
  for (int i = 0; i < 70; ++i)
    (void)client.loan_slice(150);  // within segment 2; the sweep runs every 64th
  const auto segments = data_segments(config);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_TRUE(names(segments[0], 'c', 2));
}

// Another process of the user truncates a client's data segment while a server holds a request
// in it: the server reads zeros where the elements were instead of dying of SIGBUS, refuses the
// next request placed there (the writer's own writes to it now go to private zeros), and still
// reads byte for byte a request in the client's next segment.
TEST_F(SliceGrowthTest, ADataSegmentShrunkUnderItsReaderIsReadAsZerosAndThenRefused) {
  auto service = builder(node).create();
  Signal holding, shrunk;
  ChildProcess server = started([&](const Signal& ready) {
    auto port = open_as("server").server_builder().create();
    ready.notify();
    auto active = receive_within(port);
    FLOE_CHILD_CHECK(active && bytes_follow(active->payload(), 100));
    holding.notify();
    FLOE_CHILD_CHECK(shrunk.wait() == 1);
    const std::span<const std::byte> cut = active->payload();
    FLOE_CHILD_CHECK(cut.size() == 100);
    FLOE_CHILD_CHECK(
        std::all_of(cut.begin(), cut.end(), [](std::byte b) { return b == std::byte{0}; }));
    FLOE_CHILD_CHECK(active->send_copy(std::vector<Sample>(1)));
    active.reset();
    auto next = receive_within(port);  // the request in the shrunk segment never shows
    FLOE_CHILD_CHECK(next && next->payload().size() == 1000);
    FLOE_CHILD_CHECK(bytes_follow(next->payload(), 1000));
    FLOE_CHILD_CHECK(next->send_copy(std::vector<Sample>(1)));
    return 0;
  });
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  const auto send = [&](std::uint64_t n) {
    auto request = client.loan_slice_uninit(n);
    fill_bytes(request.payload(), n);
    return std::move(request).send();
  };
  auto first = send(100);  // the client's data segment 1 (slots of 128 bytes)
  ASSERT_EQ(holding.wait(), 1);
  const auto segments = data_segments(config);
  ASSERT_EQ(segments.size(), 1u);
  ASSERT_EQ(::truncate(("/dev/shm/" + segments[0]).c_str(), 0), 0);
  shrunk.notify();
  EXPECT_TRUE(receive_within(first)) << "the server survived reading the cut elements";
  { auto done = std::move(first); }

  {
    auto refused = send(90);  // fits segment 1: written to the client's private zeros
    EXPECT_TRUE(eventually([&] { return !refused.is_connected(); }));
    EXPECT_FALSE(refused.try_receive());
  }
  auto grown = send(1000);  // segment 2
  EXPECT_TRUE(receive_within(grown));
  EXPECT_EQ(server.wait(), 0) << "128 + 7 would be SIGBUS";
}

// A client process is SIGKILLed at a random point while it makes ports, grows them and closes
// them as fast as it can: creating, naming or unlinking a data segment. Once it is reclaimed,
// none of its data segments is left, nor anything half made, and the service still serves.
TEST_F(SliceGrowthTest, AClientKilledAnywhereInGrowingLeavesNoDataSegmentBehind) {
  auto service = builder(node).create();
  std::mt19937 random(20261203);
  for (int round = 0; round < 8; ++round) {
    ChildProcess client = started([&](const Signal& ready) {
      Node own = Node::create("grower", config);
      auto remote = builder(own).open();
      bool first = true;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < until) {
        auto port =
            remote.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
        if (first) ready.notify();
        first = false;
        for (std::uint64_t lines = 2; lines <= 20; ++lines) {
          auto request = port.loan_slice_uninit(lines * 64);  // a new segment each
          fill_bytes(request.payload(), lines);
        }
      }
      return 0;  // not reached: killed long before
    });
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 20000));
    client.kill();
    const DeadNodeCleanup cleanup = node.clean_up_dead_nodes();
    EXPECT_EQ(cleanup.nodes, 1u) << round;
    EXPECT_TRUE(data_segments(config).empty()) << round << ": " << data_segments(config).front();
    const auto objects = objects_of_domain(config);
    EXPECT_EQ(objects.size(), 1u) << round << ": only the service object is left";
  }
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  auto request = client.loan_slice_uninit(500);
  EXPECT_EQ(request.payload().size(), 500u);
}

/// Where the slice descriptor of a chunk is, from its inline payload's address.
std::byte* descriptor_of(std::byte* payload, bool request) {
  using detail::test::stored_type;
  const auto layout = detail::SegmentLayout::compute(
      detail::test::small_limits(), stored_type(1, 1), stored_type(sizeof(Sample), alignof(Sample)),
      stored_type(0, 1), stored_type(0, 1), 1, 1, kInlineBytes, kInlineSamples);
  const detail::ChunkShape& shape = request ? layout->request_shape() : layout->response_shape();
  return payload - shape.payload_offset + shape.slice_offset;
}
void forge_segment(std::byte* payload, bool request, std::uint32_t number) {
  std::atomic_ref<std::uint32_t>(
      *reinterpret_cast<std::uint32_t*>(descriptor_of(payload, request) + 8))
      .store(number);
}

TEST_F(SliceGrowthTest, AForgedSegmentNumberInARequestIsRefused) {
  auto service = builder(node).create();
  auto server = service.server_builder().create();
  for (const std::uint32_t forged : {1u, 7u, 255u, 256u, 0xffffffffu}) {
    Signal sent;
    ChildProcess client_process([&] {
      auto client = open_as("client").client_builder().create();
      auto request = client.loan_slice(3);
      fill_bytes(request.payload(), 3);
      forge_segment(request.payload().data(), true, forged);
      auto pending = std::move(request).send();
      sent.notify();
      // The server refuses it: the stream ends without a response.
      FLOE_CHILD_CHECK(eventually([&] { return !pending.is_connected(); }));
      FLOE_CHILD_CHECK(!pending.try_receive());
      return 0;
    });
    ASSERT_EQ(sent.wait(), 1) << forged;
    // The request is queued: the server's receives look at it (and must refuse it) until the
    // child, having seen its stream end, exits. Not reaped here (WNOWAIT): wait() does that.
    const auto exited = [pid = client_process.pid()] {
      siginfo_t info{};
      return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
             info.si_pid == pid;
    };
    bool accepted = false;
    EXPECT_TRUE(eventually([&] {
      if (server.try_receive().has_value()) accepted = true;
      return exited();
    })) << forged;
    EXPECT_FALSE(accepted) << forged;
    EXPECT_EQ(client_process.wait(), 0) << forged;
  }
  // And it still serves a correct request.
  ChildProcess good([&] {
    auto client = open_as("client").client_builder().create();
    auto request = client.loan_slice(3);
    fill_bytes(request.payload(), 3);
    auto pending = std::move(request).send();
    return receive_within(pending) ? 0 : 1;
  });
  auto active = receive_within(server);
  ASSERT_TRUE(active);
  EXPECT_TRUE(bytes_follow(active->payload(), 3));
  EXPECT_TRUE(active->send_copy(std::vector<Sample>(1)));
  EXPECT_EQ(good.wait(), 0);
}

TEST_F(SliceGrowthTest, AForgedSegmentNumberInAResponseEndsThatStream) {
  auto service = builder(node).create();
  auto client = service.client_builder().create();
  for (const std::uint32_t forged : {1u, 9u, 255u, 4096u}) {
    ChildProcess server_process = started([&](const Signal& ready) {
      auto server = open_as("server").server_builder().create();
      ready.notify();
      auto active = receive_within(server);
      FLOE_CHILD_CHECK(active);
      auto response = active->loan_slice(2);
      fill_samples(response.payload(), 2);
      forge_segment(reinterpret_cast<std::byte*>(response.payload().data()), false, forged);
      FLOE_CHILD_CHECK(std::move(response).send());
      // Keeps the request open: only the forged response may end the stream.
      FLOE_CHILD_CHECK(eventually([&] { return !active->is_connected(); }));
      return 0;
    });
    auto pending = client.send_copy(std::vector<std::byte>(1));
    const bool ended = eventually([&] {
      EXPECT_FALSE(pending.try_receive()) << forged;
      return !pending.is_connected();
    });
    EXPECT_TRUE(ended) << forged;
    { auto gone = std::move(pending); }
    EXPECT_EQ(server_process.wait(), 0) << forged;
    EXPECT_EQ(service.usage().response_chunks_in_use, 0u) << "the forged response's chunk is free";
  }
}

// A port grows 4 times, every request answered and let go of, then goes back to inline
// requests, sent and answered: each growth first frees the drained old segments, and the 64th
// inline loan frees the last old one, though the chunks the grown requests were in are taken
// again by inline ones meanwhile, so only the newest is left (docs/API.md, "Growing past the
// service's maximum").
TEST_F(SliceGrowthTest, DrainedOldSegmentsGoAtEachGrowthAndWithinSixtyFourInlineLoans) {
  auto service = builder(node).create();
  constexpr int kGrowths = 4;
  constexpr int kInlineRequests = 64;
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  send_growing_requests(client, kGrowths);
  if (HasFatalFailure()) return;
  EXPECT_LE(data_segments(config).size(), 2u) << "a growth frees the drained older segments";
  ChildProcess server = server_process(kInlineRequests, AllocationStrategy::fixed, one_sample);
  // Each request's stream is held until the next is loaned, so the chunk the last loan before
  // the sweep took is still bound then: once a grown request's, it must not count as one now.
  std::optional<decltype(client.loan_slice_uninit(0).send())> previous;
  for (int i = 0; i < kInlineRequests; ++i) {
    auto request = client.loan_slice_uninit(kInlineBytes);
    fill_bytes(request.payload(), kInlineBytes);
    auto pending = std::move(request).send();
    ASSERT_TRUE(receive_within(pending)) << i;
    previous = std::move(pending);
  }
  previous.reset();
  EXPECT_EQ(server.wait(), 0);
  const std::vector<std::string> left = data_segments(config);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(names(left[0], 'c', kGrowths)) << left[0];
}

// A growing port asked for more than any slice may hold names that bound, not the service's.
TEST_F(SliceGrowthTest, AGrowingPortRefusingASliceTooLongNamesTheRealBound) {
  auto service = builder(node).create();
  auto client = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  const std::string message =
      message_of([&] { (void)client.loan_slice_uninit(std::uint64_t{1} << 32); });
  EXPECT_NE(message.find("it may loan at most 4294967295 elements, the most any growing port's"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("4 GiB per slot and 64 GiB in all"), std::string::npos) << message;
  EXPECT_EQ(message.find("initial_max_slice_len"), std::string::npos) << message;
}

// An initial max above the service's: the growing port makes its data segment when created,
// and its loans up to that length (and the other process's reads of them) need no growth.
TEST_F(SliceGrowthTest, AGrowingPortsInitialMaxAboveTheServicesIsReservedAtCreation) {
  auto service = builder(node).create();
  const std::vector<std::uint64_t> lengths = {1000, 65, 10, 700};
  ChildProcess server = started([&](const Signal& ready) {
    auto port = open_as("server")
                    .server_builder()
                    .allocation_strategy(AllocationStrategy::best_fit)
                    .initial_max_slice_len(300)
                    .create();
    ready.notify();
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      auto active = receive_within(port);
      FLOE_CHILD_CHECK(active);
      FLOE_CHILD_CHECK(bytes_follow(active->payload(), active->payload().size()));
      auto response = active->loan_slice_uninit(active->payload().size() / 4);
      fill_samples(response.payload(), active->payload().size());
      FLOE_CHILD_CHECK(std::move(response).send());
    }
    return 0;
  });
  auto client = service.client_builder()
                    .allocation_strategy(AllocationStrategy::best_fit)
                    .initial_max_slice_len(1000)
                    .create();
  const auto reserved = data_segments(config);
  ASSERT_EQ(reserved.size(), 2u) << "the client's and the server's, before any loan";
  EXPECT_TRUE(names(reserved[0], 'c', 1)) << reserved[0];
  EXPECT_TRUE(names(reserved[1], 's', 1)) << reserved[1];
  for (const std::uint64_t n : lengths) {
    auto request = client.loan_slice_uninit(n);
    fill_bytes(request.payload(), n);
    auto pending = std::move(request).send();
    auto response = receive_within(pending);
    ASSERT_TRUE(response) << n;
    ASSERT_EQ(response->payload().size(), n / 4);
    EXPECT_TRUE(samples_follow(response->payload(), n)) << n;
  }
  EXPECT_EQ(server.wait(), 0);
  EXPECT_EQ(data_segments(config).front(), reserved.front()) << "no growth since";
  EXPECT_EQ(error_of([&] {
              (void)service.client_builder()
                  .allocation_strategy(AllocationStrategy::power_of_two)
                  .initial_max_slice_len(kMaxSliceLen + 1)
                  .create();
            }),
            Errc::incompatible_limits);
  EXPECT_EQ(error_of([&] { (void)service.client_builder().initial_max_slice_len(1000).create(); }),
            Errc::incompatible_limits)
      << "a fixed port cannot reserve";
  // A reservation no data segment can hold (4 GiB per slot of samples): refused, and the port's
  // slot given back.
  EXPECT_EQ(error_of([&] {
              (void)service.server_builder()
                  .allocation_strategy(AllocationStrategy::best_fit)
                  .initial_max_slice_len(kMaxSliceLen)
                  .create();
            }),
            Errc::exceeds_max_slice_len);
  EXPECT_EQ(service.usage().clients, 1u) << "refused ports leave no slot taken";
  EXPECT_EQ(service.usage().servers, 0u) << "refused ports leave no slot taken";
}

}  // namespace
}  // namespace floe::test
