// A peer is dead only on the kernel's word: its liveness marks (open-file-description locks on its
// service's object) are gone. Nothing that merely hides it (another PID namespace, no
// descriptors left to read /proc with) makes a live peer look dead.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "platform/file_descriptor.hpp"
#include "platform/liveness_mark.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

class LivenessTest : public U64ServiceTest {
 protected:
  /// A server that answers each request once with payload + 1 and keeps it open, so its
  /// streams end only when it dies. Runs until killed (bounded).
  int serve_forever(Signal& ready) {
    auto remote = open_as("server");
    auto server = remote.server_builder().create();
    std::vector<decltype(server.try_receive())::value_type> held;
    ready.notify(static_cast<char>(::getpid() == 1 ? 1 : 2));
    const auto until = Clock::now() + 60s;
    while (Clock::now() < until) {
      if (auto active = server.try_receive()) {
        active->send_copy(active->payload() + 1);
        held.push_back(std::move(*active));
      } else {
        std::this_thread::sleep_for(1ms);
      }
    }
    return 0;
  }
};

TEST(LivenessMark, IsSeenFromAnotherOpenFileDescriptionAndGoesWithTheProcess) {
  const std::string path = "/dev/shm/floe_mark_test." + std::to_string(::getpid());
  detail::FileDescriptor mine(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  ASSERT_TRUE(mine);
  ::unlink(path.c_str());
  const std::string self_path = "/proc/self/fd/" + std::to_string(mine.get());
  detail::FileDescriptor other(::open(self_path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(other) << "a second open file description of the same file";

  EXPECT_FALSE(detail::is_marked_alive(other.get(), 0, 16));
  ASSERT_TRUE(detail::hold_liveness_mark(mine.get(), 3));
  EXPECT_FALSE(detail::is_marked_alive(mine.get(), 3)) << "one's own marks do not count";
  EXPECT_TRUE(detail::is_marked_alive(other.get(), 3));
  EXPECT_TRUE(detail::is_marked_alive(other.get(), 0, 16));
  EXPECT_FALSE(detail::is_marked_alive(other.get(), 4, 16));
  EXPECT_FALSE(detail::hold_liveness_mark(other.get(), 3)) << "a mark has one holder";
  detail::drop_liveness_mark(mine.get(), 3);
  EXPECT_FALSE(detail::is_marked_alive(other.get(), 3));

  // Another process's mark goes when it is killed, whoever reads /proc or not.
  Signal marked;
  ChildProcess holder([&] {
    detail::FileDescriptor own(::open(self_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!own || !detail::hold_liveness_mark(own.get(), 7)) return 1;
    marked.notify();
    return wait_to_be_killed();
  });
  ASSERT_EQ(marked.wait(), 1);
  EXPECT_TRUE(detail::is_marked_alive(mine.get(), 7));
  holder.kill();
  EXPECT_FALSE(detail::is_marked_alive(mine.get(), 7));
}

TEST_F(LivenessTest, APeerInAnotherPidNamespaceIsAliveUntilItDiesAndItsDeathIsNoticed) {
  if (::geteuid() != 0) GTEST_SKIP() << "a PID namespace of its own needs root (CAP_SYS_ADMIN)";
  auto service = builder().create();
  Signal ready;
  ChildProcess outer([&] {
    if (::unshare(CLONE_NEWPID) != 0) return 97;
    ChildProcess server([&] {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // goes when `outer` is killed
      return serve_forever(ready);
    });
    return server.wait(90s);
  });
  ASSERT_EQ(ready.wait(), 1) << "the server runs as PID 1 of a namespace of its own";

  // Its record names PID 1 (this namespace's init): a liveness read off /proc would call it
  // dead, or the wrong process alive. Creating a port reclaims dead nodes; it must not reclaim it.
  auto client = service.client_builder().create();
  EXPECT_EQ(service.usage().nodes, 2u);
  EXPECT_EQ(service.usage().servers, 1u);
  auto first = client.send_copy(41);
  auto answer = receive_within(first);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->payload(), 42u);
  EXPECT_TRUE(first.is_connected());

  // Awaited: no pidfd can name a process of another namespace, so its death is noticed by the
  // loop's safety recheck, within a bounded time.
  Runtime runtime(RuntimeOptions{.spin_budget = {}, .safety_recheck = 200ms});
  Clock::duration noticed_after{};
  runtime.block_on([&]() -> Task<void> {
    auto pending = client.send_copy(1);
    auto response = co_await with_timeout(pending.receive(), 10s);
    EXPECT_TRUE(response.has_value());
    response.reset();
    outer.kill();
    const auto killed = Clock::now();
    auto end = co_await with_timeout(pending.receive(), 10s);
    noticed_after = Clock::now() - killed;
    EXPECT_FALSE(end.has_value());
    EXPECT_FALSE(pending.is_connected());
  }());
  EXPECT_LT(noticed_after, 3s);
  EXPECT_FALSE(first.is_connected());
  auto another = service.client_builder().create();
  EXPECT_EQ(service.usage().nodes, 1u) << "the dead node is reclaimed";
}

TEST_F(LivenessTest, APeerStaysAliveForAProcessThatCannotReadProc) {
  if (kSanitized && ::geteuid() != 0) GTEST_SKIP() << "hiding /proc needs root under sanitizers";
  auto service = builder().create();
  Signal ready;
  ChildProcess server([&] { return serve_forever(ready); });
  ASSERT_EQ(ready.wait(), 2);

  ChildProcess starved([&] {
    auto remote = open_as("starved");
    auto client = remote.client_builder().create();
    // /proc/PID/stat cannot be read from here on: as root, /proc is hidden under a mount of
    // this process's own; and no descriptor is left (not under sanitizers: their runtimes
    // need descriptors of their own).
    if (::geteuid() == 0) {
      FLOE_CHILD_CHECK(::unshare(CLONE_NEWNS) == 0);
      FLOE_CHILD_CHECK(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
      FLOE_CHILD_CHECK(::mount("none", "/proc", "tmpfs", 0, nullptr) == 0);
    }
    if (!kSanitized) {
      const rlimit none{0, 0};
      FLOE_CHILD_CHECK(::setrlimit(RLIMIT_NOFILE, &none) == 0);
    }
    FLOE_CHILD_CHECK(::open("/proc/self/stat", O_RDONLY) < 0);
    auto second = remote.client_builder().create();  // reclaims dead nodes, under the limit
    FLOE_CHILD_CHECK(remote.usage().servers == 1);
    auto pending = second.send_copy(7);
    auto answer = receive_within(pending);
    FLOE_CHILD_CHECK(answer.has_value() && answer->payload() == 8);
    FLOE_CHILD_CHECK(pending.is_connected());
    return 0;
  });
  EXPECT_EQ(starved.wait(), 0);
  EXPECT_EQ(service.usage().servers, 1u);
}

TEST_F(LivenessTest, AForkedChildKeepsItsParentsNodeAliveUntilItExits) {
  // Documented: a fork shares its parent's open file descriptions, marks included, and keeps
  // the mapping too. The node is dead once neither runs.
  auto service = builder().create();
  Signal forked;
  Signal release;
  ChildProcess parent([&] {
    auto remote = open_as("parent");
    auto server = remote.server_builder().create();
    ChildProcess inheritor([&] {
      forked.notify();
      release.wait(20s);
      return 0;
    });
    ::raise(SIGKILL);  // the parent dies; the inheritor lives on until released
    return 0;
  });
  ASSERT_EQ(forked.wait(), 1);
  ASSERT_EQ(parent.wait(), 128 + SIGKILL);
  { auto client = service.client_builder().create(); }
  EXPECT_EQ(service.usage().servers, 1u) << "the inheritor still holds the parent's marks";
  release.notify();
  EXPECT_TRUE(eventually(
      [&] {
        auto client = service.client_builder().create();  // reclaims dead nodes
        return service.usage().servers == 0;
      },
      10s));
}

}  // namespace
}  // namespace floe::test
