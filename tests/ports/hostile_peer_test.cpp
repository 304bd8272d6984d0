// A peer that writes garbage into the service's shared memory never makes a victim crash, hang
// or touch memory outside its mappings: it gets floe::Error or dropped connections.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <cstring>
#include <random>

#include "registry/names.hpp"
#include "segment/layout.hpp"
#include "segment/view.hpp"
#include "support/process.hpp"

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

}  // namespace
}  // namespace floe
