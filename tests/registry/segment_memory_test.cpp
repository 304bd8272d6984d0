// A segment the machine cannot back is refused at creation, as a floe::Error that says which
// service, how big and why, and leaves nothing in /dev/shm.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "support/fixture.hpp"
#include "support/shm_objects.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using namespace std::chrono_literals;

struct Payload64MiB {
  unsigned char bytes[64 << 20];
};
struct Payload4MiB {
  unsigned char bytes[4 << 20];
};

class SegmentMemory : public ::testing::Test {
 protected:
  Config config = test::isolated_config();

  /// Every object of the test's domain in /dev/shm, temporaries included.
  std::vector<std::string> objects_left() const { return test::objects_of_domain(config); }

  /// The test's domain with limits of one of everything: the smallest segment a payload can
  /// have.
  Config smallest() const {
    Config small = config;
    small.request_response = RequestResponseLimits{.max_clients = 1,
                                                   .max_servers = 1,
                                                   .max_nodes = 4,
                                                   .max_active_requests_per_client = 1,
                                                   .max_loaned_requests = 1,
                                                   .max_response_buffer_size = 1,
                                                   .max_borrowed_responses_per_pending_response = 1,
                                                   .max_loaned_responses_per_request = 1};
    return small;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// In a child: creating service `name` with responses of type Response in `node` fails with
/// out_of_memory, in a message that names the service and holds every one of `parts`. The exit
/// code: 0 if so.
template <typename Response>
int creation_is_refused(Node& node, const std::string& name,
                        std::initializer_list<const char*> parts) {
  try {
    auto service = node.service_builder(name).request_response<std::uint64_t, Response>().create();
    return 1;
  } catch (const Error& e) {
    const std::string message = e.what();
    std::fprintf(stderr, "%s\n", message.c_str());
    FLOE_CHILD_CHECK(e.code() == Errc::out_of_memory);
    FLOE_CHILD_CHECK(contains(message, "service '" + name + "'"));
    for (const char* part : parts) {
      if (!contains(message, part)) {
        std::fprintf(stderr, "the message lacks \"%s\"\n", part);
        return 1;
      }
    }
  }
  return 0;
}

TEST_F(SegmentMemory, ASegmentBiggerThanDevShmIsRefusedUpFrontWithTheFormula) {
  // Default limits: 2 servers x 8 clients x 4 requests x 12 chunks of 64 MiB, about 48 GiB.
  struct statvfs shm {};
  ASSERT_EQ(::statvfs("/dev/shm", &shm), 0);
  if (std::uint64_t{shm.f_bavail} * shm.f_frsize > (48ull << 30)) {
    GTEST_SKIP() << "/dev/shm could hold 48 GiB here";
  }
  Node node = Node::create("big", config);
  try {
    node.service_builder("Big/Defaults")
        .request_response<std::uint64_t, Payload64MiB>()
        .open_or_create();
    FAIL() << "a 48 GiB segment was created";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), Errc::out_of_memory) << message;
    EXPECT_TRUE(contains(message, "service 'Big/Defaults'")) << message;
    EXPECT_TRUE(contains(message, "48.0 GiB")) << message;
    EXPECT_TRUE(contains(message,
                         "2 max_servers x 8 max_clients x 4 "
                         "max_active_requests_per_client x 12"))
        << message;
    EXPECT_TRUE(contains(message, "Lower max_response_buffer_size")) << message;
    EXPECT_TRUE(contains(message, "enlarge /dev/shm")) << message;
  }
  EXPECT_TRUE(objects_left().empty());
}

TEST_F(SegmentMemory, ASegmentTheKernelWillNotBackIsRefusedAndRemoved) {
  // statvfs sees room, but a file size limit makes posix_fallocate fail as a full /dev/shm
  // would (EFBIG instead of ENOSPC): the failure of reserving the pages itself is reported.
  ChildProcess child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, 1 << 20};
    FLOE_CHILD_CHECK(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    Node node = Node::create("fsize", smallest());
    return creation_is_refused<Payload4MiB>(node, "Big/Unbacked",
                                            {"12.0 MiB", "posix_fallocate", "enlarge /dev/shm"});
  });
  EXPECT_EQ(child.wait(30s), 0);
  EXPECT_TRUE(objects_left().empty());
}

TEST_F(SegmentMemory, AMappingThatFailsIsAFloeErrorAndLeavesNothing) {
  // Too little address space for the mapping: mmap fails with ENOMEM, which used to escape
  // as a plain std::system_error.
  ChildProcess child([&] {
    std::uint64_t vm_kib = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stoull(line.substr(7));
    }
    FLOE_CHILD_CHECK(vm_kib != 0);
    Node node = Node::create("as", smallest());
    const std::uint64_t room = (vm_kib << 10) + (32 << 20);  // far less than 192 MiB more
    const rlimit limit{room, room};
    FLOE_CHILD_CHECK(::setrlimit(RLIMIT_AS, &limit) == 0);
    return creation_is_refused<Payload64MiB>(
        node, "Big/Unmapped", {"MiB", "cannot map its shared-memory segment of 192.0 MiB", "mmap"});
  });
  EXPECT_EQ(child.wait(30s), 0);
  EXPECT_TRUE(objects_left().empty());
}

}  // namespace
}  // namespace floe
