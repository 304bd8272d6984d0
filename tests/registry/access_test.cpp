// Trust boundaries of a service's object: floe joins only an object of its own user (or of one
// of its groups, with group access), never one any user may write, a symbolic link or anything
// but a regular file; it never removes a newer service that took its name; and it never reads a
// sparse or oversized object that cannot be floe's.
// Other users are real: a root test process forks children that switch to uids 1001, 1002,
// 1003 and 65534 (nobody); those tests skip when not run as root.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>

#include "platform/file_descriptor.hpp"
#include "platform/liveness_mark.hpp"
#include "platform/process.hpp"
#include "registry/names.hpp"
#include "support/fixture.hpp"
#include "support/segments.hpp"

namespace floe::test {
namespace {

constexpr const char* kService = "Access/Service";

auto builder(Node& node) {
  return node.service_builder(kService).request_response<std::uint64_t, std::uint64_t>();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Access : public ::testing::Test {
 protected:
  Config config = isolated_config();
  std::string object = detail::service_object_name(config.domain, kService);
  std::string path = "/dev/shm" + object;

  void TearDown() override { ::unlink(path.c_str()); }

  /// In a child: opens or creates the service as `user`, expecting a refusal that names the
  /// owner (`owner_part`) and the mode.
  int expect_refused(const Config& as, const std::string& owner_part, const std::string& mode) {
    Node node = Node::create("refused", as);
    std::string message;
    const Errc error = error_of([&] {
      try {
        builder(node).open_or_create();
      } catch (const Error& e) {
        message = e.what();
        throw;
      }
    });
    FLOE_CHILD_CHECK(error == Errc::permission_denied);
    FLOE_CHILD_CHECK(contains(message, owner_part));
    FLOE_CHILD_CHECK(contains(message, "mode " + mode));
    FLOE_CHILD_CHECK(contains(message, kService));
    return 0;
  }

  /// expect_refused in a child that became uid `uid`, gid `gid`, with supplementary `groups`:
  /// the child's exit code (2 if it could not switch).
  int expect_refused_as(uid_t uid, gid_t gid, std::initializer_list<gid_t> groups, const Config& as,
                        const std::string& owner_part, const std::string& mode) {
    ChildProcess child([&] {
      if (!become_user(uid, gid, groups)) return 2;
      return expect_refused(as, owner_part, mode);
    });
    return child.wait();
  }
};

struct User {
  uid_t uid;
  gid_t gid;
};

/// A child that creates the service (as `user` when given), runs `prepare`, signals `ready`,
/// then answers every request with its payload + 1 until `done` (30 s at most).
template <typename Prepare>
ChildProcess serve_until_done(const Config& config, std::optional<User> user, Signal& ready,
                              Signal& done, Prepare prepare) {
  return ChildProcess([&config, user, &ready, &done, prepare] {
    if (user && !become_user(user->uid, user->gid)) return 2;
    Node node = Node::create("server", config);
    auto service = builder(node).create();
    auto server = service.server_builder().create();
    prepare();
    ready.notify();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto active = server.try_receive()) {
        FLOE_CHILD_CHECK(active->send_copy(active->payload() + 1));
      }
      if (done.wait(1ms) == 1) return 0;
    }
    return 1;
  });
}

TEST_F(Access, AnotherUsersObjectAtTheNameIsRefusedNotJoined) {
  if (::geteuid() != 0) GTEST_SKIP() << "other users need root to switch to";
  // uid 65534 puts a valid-looking service, readable and writable by all, at the name.
  Signal ready, done;
  auto squatter = serve_until_done(config, User{65534, 65534}, ready, done,
                                   [&] { ::chmod(path.c_str(), 0666); });
  ASSERT_EQ(ready.wait(), 1);
  // A server of uid 1001 and a client of root must refuse it, not exchange through it.
  EXPECT_EQ(expect_refused_as(1001, 1001, {}, config, "uid 65534 (nobody)", "0666"), 0);
  EXPECT_EQ(expect_refused(config, "uid 65534 (nobody)", "0666"), 0);
  const std::string message = message_of([&] {
    Node node = Node::create("root", config);
    builder(node).open();
  });
  EXPECT_TRUE(contains(message, "rm " + path)) << "says what to do: " << message;
  done.notify();
  EXPECT_EQ(squatter.wait(), 0);
}

TEST_F(Access, RootRefusesAnotherUsersPrivateServiceToo) {
  if (::geteuid() != 0) GTEST_SKIP() << "other users need root to switch to";
  Signal ready, done;
  auto owner = serve_until_done(config, User{1001, 1001}, ready, done, [] {});
  ASSERT_EQ(ready.wait(), 1);
  // 0600 and not root's: root could open it, but floe does not join it.
  EXPECT_EQ(expect_refused(config, "uid 1001", "0600"), 0);
  Config shared = config;
  shared.group_access = true;  // root's groups do not include 1001's group
  EXPECT_EQ(expect_refused(shared, "uid 1001", "0600"), 0);
  done.notify();
  EXPECT_EQ(owner.wait(), 0);
}

TEST_F(Access, OwnObjectThatEveryUserMayWriteIsRefused) {
  Node node = Node::create("owner", config);
  auto service = builder(node).create();
  ASSERT_EQ(::chmod(path.c_str(), 0606), 0);
  ChildProcess opener([&] {
    const auto self = std::to_string(::geteuid());
    return expect_refused(config, "uid " + self, "0606");
  });
  EXPECT_EQ(opener.wait(), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  Node again = Node::create("again", config);
  EXPECT_NO_THROW(builder(again).open());
}

TEST_F(Access, GroupAccessAdmitsMembersOfTheObjectsGroupWithMode0660Only) {
  if (::geteuid() != 0) GTEST_SKIP() << "other users need root to switch to";
  Config shared = config;
  shared.group_access = true;
  // uid 1001, group 4242, creates a group-access service and answers requests.
  Signal ready, done;
  auto owner = serve_until_done(shared, User{1001, 4242}, ready, done, [] {});
  ASSERT_EQ(ready.wait(), 1);

  // uid 1003, not in group 4242: the kernel refuses to open it, and floe says whose it is.
  EXPECT_EQ(expect_refused_as(1003, 5000, {}, shared, "uid 1001", "0660"), 0);
  // Root is in no group 4242 either.
  EXPECT_EQ(expect_refused(shared, "uid 1001", "0660"), 0);
  // Mode exactly 0660: an object its owner also made executable is not joined.
  ASSERT_EQ(::chmod(path.c_str(), 0760), 0);
  EXPECT_EQ(expect_refused_as(1002, 5000, {4242}, shared, "uid 1001", "0760"), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0660), 0);

  // uid 1002 in group 4242: refused without group access, joined with it.
  ChildProcess member([&] {
    if (!become_user(1002, 5000, {4242})) return 2;
    FLOE_CHILD_CHECK(expect_refused(config, "uid 1001", "0660") == 0);
    Node node = Node::create("member", shared);
    auto service = builder(node).open();
    auto client = service.client_builder().create();
    auto pending = client.send_copy(41);
    auto response = receive_within(pending, 20s);
    FLOE_CHILD_CHECK(response.has_value() && response->payload() == 42);
    return 0;
  });
  EXPECT_EQ(member.wait(), 0);
  done.notify();
  EXPECT_EQ(owner.wait(), 0);
}

TEST_F(Access, SymbolicLinkOrOtherFileAtTheNameIsAClearError) {
  const std::string target = path + ".target";
  {
    Node node = Node::create("owner", config);
    auto service = builder(node).create();
    ASSERT_EQ(::link(path.c_str(), target.c_str()), 0);
  }
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  Node node = Node::create("opener", config);
  std::string message;
  EXPECT_EQ(error_of([&] {
              try {
                builder(node).open_or_create();
              } catch (const Error& e) {
                message = e.what();
                throw;
              }
            }),
            Errc::permission_denied);
  EXPECT_TRUE(contains(message, "symbolic link")) << message;
  ::unlink(path.c_str());
  ::unlink(target.c_str());

  // A FIFO and a directory: refused at once (a FIFO is never waited on).
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  ChildProcess fifo([&] {
    Node opener = Node::create("fifo", config);
    const std::string text = message_of([&] { builder(opener).open(); });
    FLOE_CHILD_CHECK(contains(text, "a FIFO"));
    return 0;
  });
  EXPECT_EQ(fifo.wait(10s), 0);
  ::unlink(path.c_str());
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  EXPECT_TRUE(contains(message_of([&] { builder(node).open_or_create(); }), "directory"));
  ::rmdir(path.c_str());
}

TEST_F(Access, LastProcessLeavingDoesNotRemoveANewerServiceAtItsName) {
  // A creates the service and holds it.
  Signal a_ready, a_leave;
  ChildProcess a([&] {
    Node node = Node::create("a", config);
    auto service = builder(node).create();
    a_ready.notify();
    FLOE_CHILD_CHECK(a_leave.wait(30s) == 1);
    return 0;  // A's last node leaves here
  });
  ASSERT_EQ(a_ready.wait(), 1);
  // An operator removes A's object; B creates a new service at the name and serves.
  ASSERT_EQ(::shm_unlink(object.c_str()), 0);
  Signal b_ready, b_done;
  auto b = serve_until_done(config, std::nullopt, b_ready, b_done, [] {});
  ASSERT_EQ(b_ready.wait(), 1);
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);

  a_leave.notify();
  ASSERT_EQ(a.wait(), 0);
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0) << "A's last node removed B's service";
  EXPECT_EQ(after.st_ino, before.st_ino);

  // B still works: a new client finds it by name and gets its answer.
  Node node = Node::create("client", config);
  auto service = builder(node).open();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(41);
  auto response = receive_within(pending);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->payload(), 42u);
  b_done.notify();
  EXPECT_EQ(b.wait(), 0);
}

TEST_F(Access, SparseOrOversizedObjectIsNeverReadAndIsReplaced) {
  const std::uint64_t size = forge_sparse_segment(object, kService);
  ASSERT_GT(size, 64u << 20);
  const long long allocated = allocated_bytes(object);
  ASSERT_LT(allocated, 1 << 20) << "the forged object is not sparse";

  Node node = Node::create("victim", config);
  auto forged = [&] {
    return node.service_builder(kService).request_response<std::uint64_t, std::uint64_t>();
  };
  // Held by a live process (a liveness mark, as a node holds) or not: never read, and replaced
  // by a real service (its holders would learn of it as of any damage).
  detail::FileDescriptor holder(::shm_open(object.c_str(), O_RDWR | O_CLOEXEC, 0));
  ASSERT_TRUE(holder);
  ASSERT_TRUE(detail::hold_liveness_mark(holder.get(), 0));
  {
    auto service = forged().open_or_create();
    EXPECT_EQ(service.usage().nodes, 1u);
  }
  struct stat replaced {};
  ASSERT_EQ(::fstat(holder.get(), &replaced), 0);
  EXPECT_EQ(static_cast<long long>(replaced.st_blocks) * 512, allocated)
      << "opening or replacing it made tmpfs allocate pages";
  std::string message;
  // Larger than /dev/shm as a whole: not floe's whatever it holds.
  struct statvfs shm {};
  ASSERT_EQ(::statvfs("/dev/shm", &shm), 0);
  const off_t beyond = static_cast<off_t>(std::uint64_t{shm.f_blocks} * shm.f_frsize + (1 << 20));
  detail::FileDescriptor huge(::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_TRUE(huge);
  ASSERT_EQ(::ftruncate(huge.get(), beyond), 0);
  ASSERT_TRUE(detail::hold_liveness_mark(huge.get(), 0));
  message = message_of([&] { forged().open(); });
  EXPECT_TRUE(contains(message, "more than /dev/shm holds")) << message;
  EXPECT_TRUE(contains(message, "does not exist (a damaged segment was removed")) << message;
}

}  // namespace
}  // namespace floe::test
