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
