// A peer that writes garbage into the service's shared memory never makes a victim crash, hang
// or touch memory outside its mappings: it gets floe::Error or dropped connections.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "floe/detail/ports.hpp"
#include "registry/names.hpp"
#include "segment/layout.hpp"
#include "segment/view.hpp"
#include "support/process.hpp"
#include "support/segments.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::Signal;
using namespace std::chrono_literals;

/// Writes random bytes at random places after the static header (which is read only once, at
/// open) for `duration`.
int scribble(const std::string& object, std::chrono::milliseconds duration, unsigned seed) {
  const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR);
  if (fd < 0) return 10;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  auto* base =
      static_cast<std::uint8_t*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  if (base == MAP_FAILED) return 11;
  std::mt19937_64 random(seed);
  const std::size_t start = sizeof(detail::ServiceHeader);
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1000; ++i) {
      const std::size_t at = start + random() % (static_cast<std::size_t>(size) - start - 8);
      const std::uint64_t value = random();
      // Small numbers look like indices and sizes; those are the dangerous ones.
      const std::uint64_t garbage = (value & 1) ? value : value % 64;
      std::memcpy(base + at, &garbage, (value >> 8) % 2 ? 8 : 4);
    }
  }
  ::munmap(base, size);
  ::close(fd);
  return 0;
}

TEST(HostilePeer, GarbageInSharedMemoryGivesErrorsNotCrashes) {
  const Config config = test::isolated_config();
  Node node = Node::create("hostile-test", config);
  auto service = node.service_builder("Test/Hostile")
                     .request_response<std::uint64_t, std::uint64_t>()
                     .max_clients(2)
                     .max_response_buffer_size(4)
                     .create();
  const std::string object = detail::service_object_name(config.domain, "Test/Hostile");
  Signal started;
  ChildProcess victim([&] {
    Node n = Node::create("victim", config);
    auto s =
        n.service_builder("Test/Hostile").request_response<std::uint64_t, std::uint64_t>().open();
    auto server = s.server_builder().create();
    auto client = s.client_builder().create();
    started.notify();
    std::uint64_t errors = 0, responses = 0;
    const auto end = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < end) {
      try {
        auto pending = client.send_copy(1);
        if (auto request = server.try_receive()) {
          (void)request->payload();
          (void)request->is_connected();
          request->send_copy(2);
          auto loan = request->loan();
          *loan = 3;
          std::move(loan).send();
        }
        while (auto r = pending.try_receive())
          responses += r->payload() != 0;
        (void)pending.is_connected();
        (void)pending.number_of_server_connections();
        (void)s.usage();
      } catch (const Error&) {
        ++errors;
      }
    }
    std::printf("victim: %llu errors, %llu responses\n", static_cast<unsigned long long>(errors),
                static_cast<unsigned long long>(responses));
    return 0;
  });
  ASSERT_EQ(started.wait(), 1);
  ChildProcess attacker([&] { return scribble(object, 2500ms, 1234); });
  EXPECT_EQ(attacker.wait(), 0);
  EXPECT_EQ(victim.wait(20s), 0) << "the victim crashed (128 + signal) or hung (-1)";
}

/// Fills the request queue from client slot 0 to server slot 0 with entries no client wrote, as
/// a hostile process of the same user could. Returns how many it pushed, -1 on failure.
int fill_request_queue(const std::string& object) {
  const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR);
  if (fd < 0) return -1;
  detail::ServiceHeader header{};
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (::pread(fd, &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) return -1;
  const auto layout = detail::SegmentLayout::compute(
      header.limits, header.request, header.response, header.request_user_header,
      header.response_user_header, header.request_payload_alignment,
      header.response_payload_alignment);
  if (!layout || layout->total_size() != static_cast<std::uint64_t>(size)) return -1;
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return -1;
  detail::IndexQueue queue =
      detail::SegmentView(static_cast<std::byte*>(base), *layout).request_queue(0, 0);
  int pushed = 0;
  while (queue.push(0xdead0000u + pushed) == detail::QueueStatus::ok)
    ++pushed;
  ::munmap(base, size);
  return pushed;
}

TEST(HostilePeer, ARequestQueueAPeerFilledNeverHoldsUpABlockingClient) {
  const Config config = test::isolated_config();
  Node node = Node::create("hostile-test", config);
  auto service = node.service_builder("Test/HostileQueue")
                     .request_response<std::uint64_t, std::uint64_t>()
                     .enable_safe_overflow_for_requests(false)
                     .create();
  // An honest server that never receives: only the attacker's entries fill its queue.
  auto server = service.server_builder().create();
  auto client = service.client_builder().backpressure(Backpressure::block).create();
  ASSERT_EQ(fill_request_queue(detail::service_object_name(config.domain, "Test/HostileQueue")),
            static_cast<int>(service.limits().max_active_requests_per_client));
  // In a child, so that a send which waits forever fails the test instead of hanging it.
  ChildProcess sender([&] {
    auto pending = client.send_copy(1);
    return pending.number_of_server_connections() == 0 ? 0 : 1;
  });
  EXPECT_EQ(sender.wait(5s), 0) << "1: delivered into a full queue; -1: the send hung";
}

TEST(HostilePeer, ServiceIsUsableAgainOnceTheGarbageProcessIsGone) {
  const Config config = test::isolated_config();
  {
    ChildProcess creator_and_attacker([&] {
      Node n = Node::create("attacker", config);
      auto s = n.service_builder("Test/Hostile2")
                   .request_response<std::uint64_t, std::uint64_t>()
                   .create();
      int r = scribble(detail::service_object_name(config.domain, "Test/Hostile2"), 200ms, 99);
      ::raise(SIGKILL);
      return r;
    });
    EXPECT_EQ(creator_and_attacker.wait(), 128 + SIGKILL);
  }
  // Only dead processes used it: it is stale and replaced, garbage and all.
  Node node = Node::create("after", config);
  auto service = node.service_builder("Test/Hostile2")
                     .request_response<std::uint64_t, std::uint64_t>()
                     .open_or_create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->send_copy(2));
  EXPECT_EQ(pending.try_receive()->payload(), 2u);
}

// Slices: a peer writing a length larger than the chunk into a slice's descriptor. The cores
// are driven directly (as the typed layer and the Python binding drive them): what they hand up
// is all a receiver ever reads.

constexpr std::uint64_t kSliceMax = 64;
constexpr const char* kSliceService = "Test/HostileSlices";

/// A Slice<std::byte> -> Slice<std::byte> service of at most kSliceMax elements each way.
std::shared_ptr<detail::ServiceSegment> slice_segment(const Node& node, detail::OpenMode mode) {
  const auto& state = detail::NodeAccess::state(node);
  detail::ServiceSpec spec;
  spec.name = kSliceService;
  spec.request = TypeInfo::of<Slice<std::byte>>();
  spec.response = TypeInfo::of<Slice<std::byte>>();
  spec.request_user_header = TypeInfo::of<NoUserHeader>();
  spec.response_user_header = TypeInfo::of<NoUserHeader>();
  spec.limits = state->config.request_response;
  spec.limits.max_clients = 1;  // so the request chunks are the last thing in the segment
  spec.limits.max_servers = 1;
  spec.request_max_slice_len = kSliceMax;
  spec.response_max_slice_len = kSliceMax;
  return detail::open_service(*state, spec, mode);
}

/// Writes `length` into the descriptor of every request chunk of client slot 0 (`requests`) or
/// of every response chunk server 0 keeps for client 0. Returns 0 when it did.
int forge_slice_lengths(const std::string& object, bool requests, std::uint64_t length) {
  test::WritableSegment segment(object);
  if (!segment.view) return 1;
  const detail::SegmentView& view = *segment.view;
  const detail::SegmentLayout& layout = view.layout();
  const auto forge = [&](std::byte* chunk, const detail::ChunkShape& shape) {
    auto* descriptor = reinterpret_cast<detail::SliceDescriptor*>(chunk + shape.slice_offset);
    __atomic_store_n(&descriptor->length, length, __ATOMIC_RELAXED);
  };
  if (requests) {
    for (std::uint32_t i = 0; i < layout.request_chunks_per_client(); ++i) {
      forge(view.request_chunk(0, i), layout.request_shape());
    }
    return 0;
  }
  for (std::uint32_t k = 0; k < layout.limits().max_active_requests_per_client; ++k) {
    const detail::ResponseChannel channel = view.response_channel(0, 0, k);
    for (std::uint32_t i = 0; i < channel.chunk_count(); ++i) {
      forge(channel.chunk(i), layout.response_shape());
    }
  }
  return 0;
}

/// Loans a slice of `length` bytes, each `value`, and sends it; returns its channel.
std::uint32_t send_bytes(detail::ClientCore& client, std::uint64_t length, std::uint8_t value) {
  std::uint32_t chunk = 0;
  const detail::ChunkView view = client.loan(chunk, length);
  std::memset(view.payload, value, length);
  return client.send(chunk);
}

/// Whether `view` holds `length` bytes, each `value`.
bool holds_bytes(const detail::ChunkView& view, std::uint64_t length, std::uint8_t value) {
  if (view.length != length) return false;
  for (std::uint64_t i = 0; i < length; ++i) {
    if (view.payload[i] != std::byte{value}) return false;
  }
  return true;
}

/// The next request within 10 s.
std::optional<detail::ServerCore::Active> receive_request(detail::ServerCore& server) {
  std::optional<detail::ServerCore::Active> active;
  test::eventually([&] {
    detail::Failure failure;
    active = server.try_receive(failure);
    return active.has_value();
  });
  return active;
}

/// Counts the log lines that say a slice length was refused.
class ForgedLengthLog {
 public:
  ForgedLengthLog() {
    set_log_level(LogLevel::error);
    set_log_sink([this](LogLevel, std::string_view line) {
      if (line.find("slice length larger than its chunk") != std::string_view::npos) ++count_;
    });
  }
  ForgedLengthLog(const ForgedLengthLog&) = delete;
  ForgedLengthLog& operator=(const ForgedLengthLog&) = delete;
  ~ForgedLengthLog() {
    set_log_sink(nullptr);
    set_log_level(LogLevel::off);
  }
  int count() const noexcept { return count_.load(); }

 private:
  std::atomic<int> count_{0};
};

const std::uint64_t kForgedLengths[] = {kSliceMax + 1, std::uint64_t{1} << 32,
                                        std::numeric_limits<std::uint64_t>::max()};

TEST(HostilePeer, ForgedSliceLengthIsRejected) {
  const Config config = test::isolated_config();
  Node node = Node::create("slice-server", config);
  const auto segment = slice_segment(node, detail::OpenMode::create);
  const std::string object = detail::service_object_name(config.domain, kSliceService);
  ForgedLengthLog log;

  // Requests: the server refuses the forged one (its client sees the stream end) and serves
  // the next request of the same client.
  {
    auto server = std::make_shared<detail::ServerCore>(segment, 2, Backpressure::discard);
    for (const std::uint64_t forged : kForgedLengths) {
      Signal sent, checked, ended;
      ChildProcess client_process([&] {
        Node other = Node::create("slice-client", config);
        auto client = std::make_shared<detail::ClientCore>(
            slice_segment(other, detail::OpenMode::open), 4, Backpressure::discard);
        const std::uint32_t channel = send_bytes(*client, 8, 0xab);
        sent.notify();
        if (checked.wait() != 1) return 2;
        // The refused request's stream ends: the server closed it.
        if (!test::eventually([&] { return client->stream_ended(channel); })) return 3;
        client->drop_pending(channel);
        ended.notify();
        const std::uint32_t next = send_bytes(*client, kSliceMax, 0xcd);
        if (!test::eventually([&] { return client->stream_ended(next); })) return 4;
        client->drop_pending(next);
        return 0;
      });
      ASSERT_EQ(sent.wait(), 1);
      ChildProcess attacker([&] { return forge_slice_lengths(object, true, forged); });
      ASSERT_EQ(attacker.wait(), 0);
      const int logged = log.count();
      detail::Failure failure;
      EXPECT_FALSE(server->try_receive(failure).has_value()) << forged;
      EXPECT_FALSE(failure);
      EXPECT_EQ(log.count(), logged + 1) << "the refusal is logged";
      checked.notify();
      ASSERT_EQ(ended.wait(), 1) << "the client did not see its stream end";
      const auto active = receive_request(*server);
      ASSERT_TRUE(active.has_value()) << "the server stopped serving after a forged length";
      EXPECT_TRUE(holds_bytes(active->request, kSliceMax, 0xcd));
      server->end(*active);
      EXPECT_EQ(client_process.wait(), 0);
    }
  }

  // Responses: the client ends that server's stream and frees the chunk, and reads the good
  // responses before it.
  auto client = std::make_shared<detail::ClientCore>(segment, 4, Backpressure::discard);
  for (const std::uint64_t forged : kForgedLengths) {
    Signal ready, next, sent, done;
    ChildProcess server_process([&] {
      Node other = Node::create("slice-server-process", config);
      auto server = std::make_shared<detail::ServerCore>(
          slice_segment(other, detail::OpenMode::open), 2, Backpressure::discard);
      ready.notify();
      const auto active = receive_request(*server);
      if (!active || !holds_bytes(active->request, 3, 0x11)) return 2;
      for (const std::uint8_t value : {0x22, 0x33}) {
        std::uint32_t chunk = 0;
        const detail::ChunkView view = server->loan(*active, chunk, 5);
        std::memset(view.payload, value, 5);
        if (!server->send(*active, chunk)) return 3;
        sent.notify();
        if (next.wait() != 1) return 4;
      }
      // The stream stays open from the server's side: only the forged length ends it.
      return done.wait() == 1 ? 0 : 5;
    });
    ASSERT_EQ(ready.wait(), 1);
    const std::uint32_t channel = send_bytes(*client, 3, 0x11);
    ASSERT_EQ(sent.wait(), 1);
    std::optional<detail::ClientCore::Received> received;
    detail::Failure failure;
    ASSERT_TRUE(test::eventually([&] {
      received = client->try_receive(channel, failure);
      return received.has_value();
    }));
    EXPECT_TRUE(holds_bytes(received->view, 5, 0x22));
    client->release_response(channel, received->server, received->chunk);
    next.notify();
    ASSERT_EQ(sent.wait(), 1);
    ChildProcess attacker([&] { return forge_slice_lengths(object, false, forged); });
    ASSERT_EQ(attacker.wait(), 0);
    const int logged = log.count();
    EXPECT_FALSE(client->try_receive(channel, failure).has_value()) << forged;
    EXPECT_FALSE(failure);
    EXPECT_EQ(log.count(), logged + 1);
    EXPECT_TRUE(client->stream_ended(channel, false))
        << "the stream of the server that forged ends";
    EXPECT_EQ(detail::service_usage(*segment).response_chunks_in_use, 0u)
        << "the forged response's chunk is free again";
    next.notify();
    done.notify();
    EXPECT_EQ(server_process.wait(), 0);
    client->drop_pending(channel);
  }
}

TEST(HostilePeer, SliceLengthRewrittenAfterReceiveIsNotReread) {
  const Config config = test::isolated_config();
  Node node = Node::create("slice-server", config);
  const auto segment = slice_segment(node, detail::OpenMode::create);
  const std::string object = detail::service_object_name(config.domain, kSliceService);
  auto server = std::make_shared<detail::ServerCore>(segment, 1, Backpressure::discard);
  Signal sent, done;
  ChildProcess client_process([&] {
    Node other = Node::create("slice-client", config);
    auto client = std::make_shared<detail::ClientCore>(slice_segment(other, detail::OpenMode::open),
                                                       4, Backpressure::discard);
    send_bytes(*client, 16, 0x5a);
    sent.notify();
    return done.wait() == 1 ? 0 : 2;
  });
  ASSERT_EQ(sent.wait(), 1);
  const auto active = receive_request(*server);
  ASSERT_TRUE(active.has_value());
  // A peer now flips the length between huge and small while the server reads the request.
  Signal flipping;
  ChildProcess attacker([&] {
    test::WritableSegment writable(object);
    if (!writable.view) return 1;
    const detail::SegmentLayout& layout = writable.view->layout();
    flipping.notify();
    const auto end = std::chrono::steady_clock::now() + 300ms;
    for (std::uint64_t n = 0; std::chrono::steady_clock::now() < end; ++n) {
      for (std::uint32_t i = 0; i < layout.request_chunks_per_client(); ++i) {
        auto* descriptor = reinterpret_cast<detail::SliceDescriptor*>(
            writable.view->request_chunk(0, i) + layout.request_shape().slice_offset);
        __atomic_store_n(&descriptor->length, n % 2 == 0 ? ~std::uint64_t{0} : 1, __ATOMIC_RELAXED);
      }
    }
    return 0;
  });
  ASSERT_EQ(flipping.wait(), 1);
  const auto end = std::chrono::steady_clock::now() + 200ms;
  int reads = 0;
  while (std::chrono::steady_clock::now() < end) {
    // What the typed layer does with a received request, every time: its length and bytes.
    ASSERT_TRUE(holds_bytes(active->request, 16, 0x5a));
    ++reads;
  }
  EXPECT_GT(reads, 0);
  EXPECT_EQ(attacker.wait(), 0);
  server->end(*active);
  done.notify();
  EXPECT_EQ(client_process.wait(), 0);
}

}  // namespace
}  // namespace floe
