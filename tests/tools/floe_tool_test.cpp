// The floe command-line tool, run as a user runs it, against services of real processes.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "registry/names.hpp"
#include "support/fixture.hpp"
#include "support/segments.hpp"

namespace floe::test {
namespace {

struct ToolRun {
  int exit_code = -1;
  std::string output;
};

/// Runs the tool with `arguments`, returning its exit code and what it printed (both streams).
ToolRun floe_tool(const std::string& arguments) {
  ToolRun run;
  const std::string command = std::string(FLOE_TOOL_PATH) + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    run.output += buffer;
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

/// Runs the tool as another user (from a root test process): uid, gid and supplementary
/// groups, with FLOE_CONFIG naming `config_file` when it is not empty. Bounded: a tool that
/// does not finish within 30 s is killed.
ToolRun floe_tool_as(uid_t uid, gid_t gid, std::initializer_list<gid_t> groups,
                     const std::string& config_file, const std::vector<std::string>& arguments) {
  ToolRun run;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return run;
  ChildProcess tool([&] {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    if (!become_user(uid, gid, groups)) return 126;
    if (!config_file.empty()) ::setenv("FLOE_CONFIG", config_file.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(FLOE_TOOL_PATH)};
    for (const std::string& argument : arguments)
      argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    ::execv(FLOE_TOOL_PATH, argv.data());
    return 127;
  });
  ::close(pipe_fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  char buffer[512];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    run.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  run.exit_code = tool.wait(5s);
  return run;
}

class FloeTool : public U64ServiceTest {
 protected:
  std::string domain_option() const { return "--domain " + config.domain; }
  std::string object() const { return detail::service_object_name(config.domain, "Test/Service"); }

  /// Leaves service `name` of `as`'s domain stale: a child that runs `become` (false: it could
  /// not become who it should), creates the service and is killed. True if it was.
  template <typename Become>
  bool leave_stale(const Config& as, const std::string& name, Become become) {
    ChildProcess crashed([&] {
      if (!become()) return 2;
      Node other = Node::create("crashed", as);
      auto service =
          other.service_builder(name).request_response<std::uint64_t, std::uint64_t>().create();
      ::raise(SIGKILL);
      return 0;
    });
    return crashed.wait() == 128 + SIGKILL;
  }
  bool leave_stale(const std::string& name) {
    return leave_stale(config, name, [] { return true; });
  }
};

TEST_F(FloeTool, ListAndInspectShowTypesPortsAndProcesses) {
  auto service = builder().max_clients(3).create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();

  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("Test/Service"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("long unsigned int -> long unsigned int"), std::string::npos);
  EXPECT_NE(list.output.find("1/3"), std::string::npos) << "one client of three\n" << list.output;
  EXPECT_NE(list.output.find("live"), std::string::npos);

  const ToolRun inspect = floe_tool("inspect Test/Service " + domain_option());
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  const std::string pid = std::to_string(::getpid());
  EXPECT_NE(inspect.output.find("pid " + pid), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("server 0"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("client 0"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("clients 3"), std::string::npos) << inspect.output;
  // Flags read as true or false.
  EXPECT_NE(inspect.output.find("enable_fire_and_forget_requests false"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("enable_safe_overflow_for_responses true"), std::string::npos)
      << inspect.output;

  const ToolRun missing = floe_tool("inspect No/Such/Service " + domain_option());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no service 'No/Such/Service'"), std::string::npos);
  const ToolRun unknown = floe_tool("frobnicate");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("subcommand"), std::string::npos) << unknown.output;
}

TEST_F(FloeTool, LimitsPrintsEveryLimitWithItsDefaultAndRangeFromTheList) {
  const ToolRun run = floe_tool("limits");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const detail::LimitInfo& limit : detail::kLimits) {
    const std::string range = limit.is_flag
                                  ? "true/false"
                                  : std::to_string(limit.min) + " to " + std::to_string(limit.max);
    const std::string value = limit.is_flag ? (limit.default_value != 0 ? "true" : "false")
                                            : std::to_string(limit.default_value);
    const std::size_t row = run.output.find("\n" + std::string(limit.name) + " ");
    ASSERT_NE(row, std::string::npos) << limit.name << " is missing:\n" << run.output;
    const std::string line = run.output.substr(row + 1, run.output.find('\n', row + 1) - row - 1);
    EXPECT_NE(line.find(" " + value + " "), std::string::npos) << line;
    EXPECT_NE(line.find(" " + range + " "), std::string::npos) << line;
    EXPECT_NE(line.find(std::string(limit.help)), std::string::npos) << line;
  }
  EXPECT_NE(run.output.find("0 is taken as 1"), std::string::npos) << run.output;
}

TEST_F(FloeTool, InspectShowsTheAttributesAndAlignmentsOfAServiceOfAnotherProcess) {
  Signal done;
  ChildProcess creator = creator_holding(
      [](auto creating) {
        return creating
            .attributes(AttributeSpecifier()
                            .define("camera", "front")
                            .define("camera", "rear")
                            .define("note", "a\x1b[2Jb"))
            .response_payload_alignment(128)
            .create();
      },
      done);
  const ToolRun inspect = floe_tool("inspect Test/Service " + domain_option());
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("attribute camera = front\nattribute camera = rear\n"),
            std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("(0 B), payload alignment 8\nresponse  "), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("(0 B), payload alignment 128\n"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("attribute note = a\\x1b[2Jb\n"), std::string::npos)
      << "control characters are escaped\n"
      << inspect.output;
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(FloeTool, CleanRemovesWhatDeadProcessesLeftAndKeepsWhatIsUsed) {
  auto live = builder().create();
  // Two services whose only process was killed; the second then shrunk by someone, so damaged.
  for (const char* name : {"Test/Crashed", "Test/Shrunk"})
    ASSERT_TRUE(leave_stale(name));
  const std::string shrunk =
      "/dev/shm" + floe::detail::service_object_name(config.domain, "Test/Shrunk");
  ASSERT_EQ(::truncate(shrunk.c_str(), 100), 0);

  const ToolRun dry = floe_tool("clean --dry-run " + domain_option());
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_NE(dry.output.find("2 to remove"), std::string::npos) << dry.output;

  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0);
  EXPECT_NE(clean.output.find("stale service 'Test/Crashed'"), std::string::npos) << clean.output;
  EXPECT_NE(clean.output.find("damaged, unused"), std::string::npos) << clean.output;
  EXPECT_NE(clean.output.find("2 removed, 1 in use"), std::string::npos) << clean.output;

  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_NE(list.output.find("Test/Service"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find("Test/Crashed"), std::string::npos) << list.output;
  // The live service still works.
  auto server = live.server_builder().create();
  auto client = live.client_builder().create();
  auto pending = client.send_copy(1);
  EXPECT_TRUE(server.try_receive().has_value());
}

TEST_F(FloeTool, CleanReportsRemovalsThatFailedAndExitsNonZero) {
  if (::geteuid() != 0) GTEST_SKIP() << "another user needs root to switch to";
  // Root, in group 4242, leaves a stale group-access service behind (mode 0660, group 4242).
  Config shared = config;
  shared.group_access = true;
  ASSERT_TRUE(leave_stale(shared, "Test/Service", [] { return ::setgid(4242) == 0; }));
  const std::string path = "/dev/shm" + object();
  ASSERT_TRUE(std::filesystem::exists(path));
  const std::string config_file = "/tmp/floe_tool_test_" + config.domain + ".toml";
  std::ofstream(config_file) << "[global]\ngroup_access = true\n";
  ::chmod(config_file.c_str(), 0644);

  // uid 1001 of group 4242 may judge it (it is stale) but not unlink another user's object in
  // sticky /dev/shm: a failure, said as one, with the owner, and exit 1.
  const ToolRun member =
      floe_tool_as(1001, 5000, {4242}, config_file, {"clean", "--domain", config.domain});
  EXPECT_EQ(member.exit_code, 1) << member.output;
  EXPECT_NE(member.output.find("FAILED"), std::string::npos) << member.output;
  EXPECT_NE(member.output.find("Permission denied"), std::string::npos) << member.output;
  EXPECT_NE(member.output.find("uid 0 (root)"), std::string::npos) << member.output;
  EXPECT_NE(member.output.find("1 could not be removed"), std::string::npos) << member.output;
  EXPECT_EQ(member.output.find("removed /dev/shm"), std::string::npos) << member.output;
  EXPECT_TRUE(std::filesystem::exists(path));

  // Its owner removes it; the library's next opener would have replaced it too.
  const ToolRun owner = floe_tool("clean " + domain_option());
  EXPECT_EQ(owner.exit_code, 0) << owner.output;
  EXPECT_NE(owner.output.find("removed /dev/shm" + object()), std::string::npos) << owner.output;
  EXPECT_FALSE(std::filesystem::exists(path));
  ::unlink(config_file.c_str());
}

TEST_F(FloeTool, InspectSaysPermissionDeniedAndWhoOwnsTheService) {
  if (::geteuid() != 0) GTEST_SKIP() << "another user needs root to switch to";
  auto service = builder().create();  // root's, 0600
  const ToolRun inspect =
      floe_tool_as(1001, 1001, {}, {}, {"inspect", "Test/Service", "--domain", config.domain});
  EXPECT_EQ(inspect.exit_code, 1) << inspect.output;
  EXPECT_EQ(inspect.output.find("no service"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("permission denied"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("uid 0 (root)"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("mode 0600"), std::string::npos) << inspect.output;
}

TEST_F(FloeTool, AnotherUsersObjectIsListedWithItsOwnerAndNeverJoinedOrRemoved) {
  if (::geteuid() != 0) GTEST_SKIP() << "another user needs root to switch to";
  // nobody's service, stale: its process was killed.
  ASSERT_TRUE(leave_stale(config, "Test/Service", [] { return become_user(65534, 65534); }));
  const std::string path = "/dev/shm" + object();

  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(object()), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("uid 65534 (nobody)"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("floe refuses to join it"), std::string::npos) << list.output;

  const ToolRun inspect = floe_tool("inspect Test/Service " + domain_option());
  EXPECT_EQ(inspect.exit_code, 1) << inspect.output;
  EXPECT_NE(inspect.output.find("uid 65534 (nobody)"), std::string::npos) << inspect.output;

  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("kept    /dev/shm" + object()), std::string::npos) << clean.output;
  EXPECT_TRUE(std::filesystem::exists(path)) << "root's clean removed another user's object";
  ::unlink(path.c_str());
}

TEST_F(FloeTool, SparseObjectIsReportedWithoutBeingRead) {
  const std::string forged = detail::service_object_name(config.domain, "Test/Forged");
  ASSERT_GT(forge_sparse_segment(forged, "Test/Forged"), 64u << 20);
  const long long allocated = allocated_bytes(forged);
  ASSERT_LT(allocated, 1 << 20);

  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("not floe's"), std::string::npos) << list.output;
  const ToolRun inspect = floe_tool("inspect Test/Forged " + domain_option());
  EXPECT_EQ(inspect.exit_code, 1) << inspect.output;
  EXPECT_NE(inspect.output.find("allocated"), std::string::npos) << inspect.output;
  EXPECT_EQ(allocated_bytes(forged), allocated) << "looking made tmpfs allocate its pages";
  // Nobody holds it (no liveness mark): removed as damaged, still unread.
  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("removed /dev/shm" + forged), std::string::npos) << clean.output;
  EXPECT_NE(clean.output.find("damaged, unused"), std::string::npos) << clean.output;
}

}  // namespace
}  // namespace floe::test
