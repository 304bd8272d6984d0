// The floe command-line tool, run as a user runs it, against services of real processes.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "registry/names.hpp"
#include "support/fixture.hpp"
#include "support/segments.hpp"
#include "support/shm_objects.hpp"

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

/// Runs the tool with `arguments` and parses what it printed on stdout as one JSON document
/// (a parse error fails the test and gives null).
nlohmann::json floe_json(const std::string& arguments) {
  const std::string command = std::string(FLOE_TOOL_PATH) + " " + arguments + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    output += buffer;
  const int status = ::pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << arguments << "\n" << output;
  const nlohmann::json parsed = nlohmann::json::parse(output, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "not one JSON document:\n" << output;
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

/// The element of a JSON array whose `key` is `value`; null when none is.
nlohmann::json element_with(const nlohmann::json& array, const std::string& key,
                            const nlohmann::json& value) {
  if (array.is_array()) {
    for (const auto& element : array) {
      if (element.contains(key) && element[key] == value) return element;
    }
  }
  return {};
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

  /// A service of byte-slice requests inline up to 64 bytes, for ports that grow past them.
  static auto growing_service(Node& n, const std::string& name) {
    return n.service_builder(name)
        .request_response<Slice<std::byte>, std::uint64_t>()
        .request_max_slice_len(64)
        .max_loaned_requests(4);
  }
  /// A child whose best_fit client of growing_service `name` (created if need be) loans each of
  /// `lengths`, a data segment each, and is killed holding them. True if it was.
  bool grow_and_die(const std::string& name, const std::vector<std::size_t>& lengths) {
    ChildProcess grower([&] {
      Node other = Node::create("grower", config);
      auto service = growing_service(other, name).open_or_create();
      auto client =
          service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
      std::vector<decltype(client.loan_slice(1))> loans;
      for (const std::size_t length : lengths)
        loans.push_back(client.loan_slice(length));
      ::raise(SIGKILL);
      return 0;
    });
    return grower.wait(30s) == 128 + SIGKILL;
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
}

TEST_F(FloeTool, NoSubcommandPrintsHelpAndACommandLineMistakeExitsTwo) {
  const ToolRun bare = floe_tool("");
  EXPECT_EQ(bare.exit_code, 0) << bare.output;
  for (const char* subcommand : {"list", "inspect", "nodes", "clean", "limits"})
    EXPECT_NE(bare.output.find(subcommand), std::string::npos) << subcommand << bare.output;
  const ToolRun help = floe_tool("--help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_EQ(help.output, bare.output);
  for (const char* subcommand : {"list", "inspect", "nodes", "clean", "limits"}) {
    const ToolRun sub_help = floe_tool(std::string(subcommand) + " --help");
    EXPECT_EQ(sub_help.exit_code, 0) << subcommand << sub_help.output;
    EXPECT_NE(sub_help.output.find(std::string("floe ") + subcommand), std::string::npos)
        << sub_help.output;
  }
  EXPECT_NE(floe_tool("nodes --help").output.find("--json"), std::string::npos);

  const ToolRun unknown = floe_tool("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("frobnicate"), std::string::npos) << unknown.output;
  const ToolRun bad_flag = floe_tool("list --frobnicate");
  EXPECT_EQ(bad_flag.exit_code, 2) << bad_flag.output;
  EXPECT_NE(bad_flag.output.find("--frobnicate"), std::string::npos) << bad_flag.output;
  const ToolRun no_service = floe_tool("inspect");
  EXPECT_EQ(no_service.exit_code, 2) << no_service.output;
  EXPECT_NE(no_service.output.find("service"), std::string::npos) << no_service.output;
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
  EXPECT_NE(inspect.output.find("user header none, payload alignment 8\nresponse  "),
            std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("user header none, payload alignment 128\n"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("attribute note = a\\x1b[2Jb\n"), std::string::npos)
      << "control characters are escaped\n"
      << inspect.output;
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(FloeTool, ListAndInspectShowSliceServicesAndTheirMaxLengths) {
  Signal created, done;
  ChildProcess creator([&] {
    Node other = Node::create("slice-creator", config);
    auto service = other.service_builder("Test/Slices")
                       .request_response<Slice<std::byte>, std::uint64_t>()
                       .request_max_slice_len(4096)
                       .create();
    created.notify();
    return done.wait() == 1 ? 0 : 1;
  });
  ASSERT_EQ(created.wait(), 1);
  const ToolRun inspect = floe_tool("inspect Test/Slices " + domain_option());
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("request   floe::Slice<std::byte> (1 B elements, at most 4096), "
                                "user header none"),
            std::string::npos)
      << inspect.output;
  const std::string u64(TypeInfo::of<std::uint64_t>().name);
  EXPECT_NE(inspect.output.find("response  " + u64 + " (8 B)"), std::string::npos)
      << inspect.output;
  const nlohmann::json json = floe_json("inspect --json Test/Slices " + domain_option());
  EXPECT_EQ(json["request_type"], "floe::Slice<std::byte>");
  EXPECT_EQ(json["request_max_slice_len"], 4096);
  EXPECT_EQ(json["response_max_slice_len"], 0);
  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_NE(list.output.find("floe::Slice<std::byte> -> " + u64), std::string::npos) << list.output;
  const nlohmann::json listed = floe_json("list --json " + domain_option())["services"][0];
  EXPECT_EQ(listed["request_type"], "floe::Slice<std::byte>");
  EXPECT_EQ(listed["request_max_slice_len"], 4096);
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(FloeTool, InspectCountsDataSegmentsPerPortAndCleanRemovesOrphanedOnes) {
  auto service = node.service_builder("Test/Slices")
                     .request_response<Slice<std::byte>, std::uint64_t>()
                     .request_max_slice_len(64)
                     .create();
  auto client = service.client_builder().create();
  // What a port that grew twice and a service removed mid-crash leave, at the names they use.
  const std::string slices = detail::service_object_name(config.domain, "Test/Slices");
  const std::string grown =
      detail::data_segment_name(slices, detail::DataSegmentWriter::client, 0, 1, 2);
  const std::string orphan =
      detail::data_segment_name(detail::service_object_name(config.domain, "Test/Gone"),
                                detail::DataSegmentWriter::server, 0, 1, 1);
  for (const std::string& name : {grown, orphan}) {
    const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << name;
    EXPECT_EQ(::ftruncate(fd, 8192), 0);
    ::close(fd);
  }

  const ToolRun inspect = floe_tool("inspect Test/Slices " + domain_option());
  // Made by hand, without a data segment's header: counted, its max not believed.
  EXPECT_NE(
      inspect.output.find("1 data segment (8192 bytes, newest number 2, its header not valid)"),
      std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("data      1 data segment of grown ports, 8192 bytes"),
            std::string::npos)
      << inspect.output;
  const nlohmann::json json = floe_json("inspect --json Test/Slices " + domain_option());
  EXPECT_EQ(json["usage"]["data_segments"], 1);
  EXPECT_EQ(json["usage"]["data_segment_bytes"], 8192);
  EXPECT_EQ(json["clients"][0]["data_segments"], 1);
  EXPECT_EQ(json["clients"][0]["newest_data_segment"], 2);
  EXPECT_EQ(json["clients"][0]["newest_max_slice_len"], 0);
  EXPECT_EQ(floe_json("list --json " + domain_option())["services"].size(), 1u)
      << "a data segment is not a service";

  const ToolRun dry = floe_tool("clean --dry-run " + domain_option());
  EXPECT_NE(dry.output.find("would remove /dev/shm" + orphan + " (data segment of no service)"),
            std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("1 object(s) to remove"), std::string::npos) << dry.output;
  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("removed /dev/shm" + orphan), std::string::npos) << clean.output;
  EXPECT_FALSE(std::filesystem::exists("/dev/shm" + orphan));
  EXPECT_TRUE(std::filesystem::exists("/dev/shm" + grown)) << "its service exists";
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
  EXPECT_NE(dry.output.find("2 object(s) to remove"), std::string::npos) << dry.output;

  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0);
  EXPECT_NE(clean.output.find("stale service 'Test/Crashed'"), std::string::npos) << clean.output;
  EXPECT_NE(clean.output.find("damaged, unused"), std::string::npos) << clean.output;
  EXPECT_NE(clean.output.find("2 object(s) removed, 1 service object(s) kept"), std::string::npos)
      << clean.output;

  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_NE(list.output.find("Test/Service"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find("Test/Crashed"), std::string::npos) << list.output;
  // The live service still works.
  auto server = live.server_builder().create();
  auto client = live.client_builder().create();
  auto pending = client.send_copy(1);
  EXPECT_TRUE(server.try_receive().has_value());
}

TEST_F(FloeTool, CleanReclaimsTheDataSegmentsOfADeadPortInALiveService) {
  auto service = growing_service(node, "Test/Growing").create();
  auto server = service.server_builder().create();
  auto live = service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
  auto live_held = live.loan_slice(100);  // a data segment of the live client
  const std::vector<std::string> live_segments = data_segments(config);
  ASSERT_EQ(live_segments.size(), 1u);

  // A growing client killed while it holds loans in three data segments of its own.
  ASSERT_TRUE(grow_and_die("Test/Growing", {100, 200, 400}));
  ASSERT_EQ(data_segments(config).size(), 4u);

  const ToolRun dry = floe_tool("clean --dry-run " + domain_option());
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("1 node(s), 1 port(s), 3 data segment(s)"), std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("3 object(s) to remove"), std::string::npos) << dry.output;
  EXPECT_EQ(data_segments(config).size(), 4u) << "a dry run removes nothing";

  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("reclaimed /dev/shm"), std::string::npos) << clean.output;
  EXPECT_NE(clean.output.find("1 node(s), 1 port(s), 3 data segment(s)"), std::string::npos)
      << clean.output;
  EXPECT_NE(clean.output.find("3 object(s) removed"), std::string::npos) << clean.output;
  EXPECT_EQ(data_segments(config), live_segments) << "only the dead port's went";

  // The live ports keep working, the grown loan included.
  std::fill(live_held.payload().begin(), live_held.payload().end(), std::byte{7});
  auto pending = std::move(live_held).send();
  auto request = server.try_receive();
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(request->payload().size(), 100u);
  EXPECT_EQ(request->payload()[99], std::byte{7});
  EXPECT_TRUE(floe_tool("clean " + domain_option()).output.find("0 object(s) removed") !=
              std::string::npos);
}

TEST_F(FloeTool, CleanCountsTheDataSegmentsOfAStaleServiceWithIt) {
  // The service's only process, a growing client, killed while it holds two data segments.
  ASSERT_TRUE(grow_and_die("Test/StaleGrown", {100, 200}));
  ASSERT_EQ(data_segments(config).size(), 2u);

  const ToolRun dry = floe_tool("clean --dry-run " + domain_option());
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("(stale service 'Test/StaleGrown', with 2 data segment(s))"),
            std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("3 object(s) to remove"), std::string::npos) << dry.output;
  EXPECT_EQ(data_segments(config).size(), 2u) << "a dry run removes nothing";

  const ToolRun clean = floe_tool("clean " + domain_option());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("3 object(s) removed"), std::string::npos) << clean.output;
  EXPECT_TRUE(data_segments(config).empty());
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

/// Ports of real processes on a lossless service (2 responses fit a client's buffer): a server
/// blocked sending its third response to a client that never reads, and a client with 3
/// requests queued behind that request.
class FloeToolQueues : public FloeTool {
 protected:
  void SetUp() override {
    service_.emplace(builder()
                         .max_clients(3)
                         .max_active_requests_per_client(4)
                         .max_response_buffer_size(2)
                         .enable_safe_overflow_for_responses(false)
                         .create());
    Signal ready, received;
    server_.emplace([&] {
      auto server =
          open_as("blocked-server").server_builder().backpressure(Backpressure::block).create();
      ready.notify();
      Runtime runtime;
      runtime.block_on([&]() -> Task<void> {
        auto active = co_await with_timeout(server.receive(), 10s);
        received.notify();
        for (std::uint64_t i = 0; i < 3; ++i) {
          if (!co_await active.async_send_copy(i)) co_return;  // the third waits for room
        }
      }());
      return wait_to_be_killed();
    });
    // A request reaches the servers there are when it is sent: start the client after.
    ASSERT_EQ(ready.wait(), 1) << "the server process did not create its port";
    slow_client_.emplace(client_that_sent(7));  // "doomed-client": never reads
    ASSERT_EQ(received.wait(), 1) << "the server did not take the slow client's request";
    queue_client_.emplace(started([&](const Signal& sent) {
      auto client = open_as("queue-client").client_builder().create();
      std::vector<U64Pending> pending;
      for (std::uint64_t i = 0; i < 3; ++i)
        pending.push_back(client.send_copy(i));
      sent.notify();
      return wait_to_be_killed();
    }));
  }

  std::optional<U64Service> service_;
  std::optional<ChildProcess> server_, slow_client_, queue_client_;
};

TEST_F(FloeToolQueues, JsonOfListInspectAndNodesGivesNamesPidsCountsAndFillLevels) {
  // The server's third send is waiting for room: inspect says so once it does.
  nlohmann::json inspect;
  const bool blocked = eventually([&] {
    inspect = floe_json("inspect Test/Service --json " + domain_option());
    return !element_with(inspect["response_channels"], "server_blocked", true).is_null();
  });
  ASSERT_TRUE(blocked) << inspect.dump(2);
  const std::string self = std::to_string(::getpid());
  EXPECT_EQ(inspect["name"], "Test/Service");
  EXPECT_EQ(inspect["state"], "live");
  EXPECT_EQ(inspect["limits"]["max_response_buffer_size"], 2);
  EXPECT_EQ(inspect["limits"]["enable_safe_overflow_for_responses"], false);
  const nlohmann::json channel = element_with(inspect["response_channels"], "server_blocked", true);
  EXPECT_EQ(channel["responses_queued"]["used"], 2) << channel;
  EXPECT_EQ(channel["responses_queued"]["capacity"], 2) << channel;

  const nlohmann::json queuer = element_with(inspect["clients"], "node", "queue-client");
  ASSERT_FALSE(queuer.is_null()) << inspect.dump(2);
  EXPECT_EQ(queuer["pid"], queue_client_->pid());
  EXPECT_EQ(queuer["alive"], true);
  EXPECT_EQ(queuer["active_requests"], 3);
  ASSERT_EQ(queuer["requests_queued"].size(), 1u) << queuer;
  EXPECT_EQ(queuer["requests_queued"][0]["used"], 3) << "3 requests queued";
  EXPECT_EQ(queuer["requests_queued"][0]["capacity"], 4);
  EXPECT_EQ(queuer["requests_queued"][0]["server"], 0);
  const nlohmann::json slow = element_with(inspect["clients"], "node", "doomed-client");
  EXPECT_EQ(slow["pid"], slow_client_->pid());
  EXPECT_EQ(slow["active_requests"], 1);
  EXPECT_EQ(slow["requests_queued"].size(), 0u) << "the server took its request";
  EXPECT_EQ(channel["client"], slow["slot"]);
  const nlohmann::json server = element_with(inspect["servers"], "node", "blocked-server");
  EXPECT_EQ(server["pid"], server_->pid());
  EXPECT_EQ(channel["server"], server["slot"]);

  // The text says the same.
  const ToolRun text = floe_tool("inspect Test/Service " + domain_option());
  EXPECT_NE(text.output.find("node queue-client, 3 active requests, requests queued 3/4 to "
                             "server 0"),
            std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find(": 2/2 queued, server blocked on a full client"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("name blocked-server"), std::string::npos) << text.output;

  const nlohmann::json list = floe_json("list --json " + domain_option());
  EXPECT_EQ(list["domain"], config.domain);
  ASSERT_EQ(list["services"].size(), 1u) << list.dump(2);
  const nlohmann::json listed = list["services"][0];
  EXPECT_EQ(listed["usage"]["clients"], 2);
  EXPECT_EQ(listed["usage"]["servers"], 1);
  EXPECT_EQ(listed["live_nodes"], 4);
  EXPECT_EQ(listed["request_type"], "long unsigned int");
  const nlohmann::json test_node = element_with(listed["nodes"], "name", "test");
  EXPECT_EQ(test_node["pid"], ::getpid());
  EXPECT_EQ(test_node["clients"], 0);
  EXPECT_EQ(element_with(listed["nodes"], "name", "queue-client")["clients"], 1);
  EXPECT_EQ(element_with(listed["nodes"], "name", "blocked-server")["servers"], 1);
  const ToolRun list_text = floe_tool("list " + domain_option());
  EXPECT_NE(list_text.output.find("test (pid " + self + ")"), std::string::npos)
      << list_text.output;

  // A killed node stays, dead, with its name, until someone reclaims its record.
  queue_client_->kill();
  const nlohmann::json nodes = floe_json("nodes --json " + domain_option());
  ASSERT_EQ(nodes["nodes"].size(), 4u) << nodes.dump(2);
  const nlohmann::json dead = element_with(nodes["nodes"], "name", "queue-client");
  EXPECT_EQ(dead["alive"], false) << dead;
  EXPECT_EQ(dead["pid"], queue_client_->pid());
  ASSERT_EQ(dead["services"].size(), 1u);
  EXPECT_EQ(dead["services"][0]["service"], "Test/Service");
  EXPECT_EQ(dead["services"][0]["clients"], 1);
  EXPECT_EQ(element_with(nodes["nodes"], "name", "blocked-server")["alive"], true);
  const ToolRun nodes_text = floe_tool("nodes " + domain_option());
  EXPECT_EQ(nodes_text.exit_code, 0);
  const std::string dead_pid = std::to_string(queue_client_->pid());
  const std::size_t row = nodes_text.output.find("queue-client");
  ASSERT_NE(row, std::string::npos) << nodes_text.output;
  const std::string line = nodes_text.output.substr(row, nodes_text.output.find('\n', row) - row);
  EXPECT_NE(line.find(dead_pid), std::string::npos) << line;
  EXPECT_NE(line.find("dead"), std::string::npos) << line;
  EXPECT_NE(line.find("Test/Service (1/0)"), std::string::npos) << line;
}

TEST_F(FloeTool, AHostileNodeNameIsPrintedEscapedAndBounded) {
  // Any bytes Node::create takes: control characters, and 255 of them, unterminated.
  std::string name = "evil\x1b[2J\x07\x9b";
  name.resize(detail::kMaxNodeNameLength, 'x');
  ChildProcess child = started([&](const Signal& ready) {
    Node hostile = Node::create(name, config);
    auto service = builder(hostile).create();
    ready.notify();
    return wait_to_be_killed();
  });
  // The child lies about its name's length too: readers stop at the record's 255 bytes.
  {
    WritableSegment segment(object());
    ASSERT_TRUE(segment.view);
    detail::NodeRecord* record = segment.view->node(0);
    ASSERT_EQ(record->pid, static_cast<std::uint64_t>(child.pid()));
    record->name_length = 0xffffffffu;
  }

  const std::string shown = "evil\\x1b[2J\\x07\\x9b" + std::string(255 - 10, 'x');
  const ToolRun inspect = floe_tool("inspect Test/Service " + domain_option());
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("name " + shown + "\n"), std::string::npos) << inspect.output;
  EXPECT_EQ(inspect.output.find('\x1b'), std::string::npos) << "a control character got out";
  const ToolRun nodes = floe_tool("nodes " + domain_option());
  EXPECT_NE(nodes.output.find(shown + "\n"), std::string::npos) << nodes.output;
  EXPECT_EQ(nodes.output.find('\x1b'), std::string::npos);
  // In JSON the bytes are a JSON string (the byte that is not UTF-8 replaced), exactly 255.
  const nlohmann::json json = floe_json("nodes --json " + domain_option());
  ASSERT_EQ(json["nodes"].size(), 1u) << json.dump(2);
  const std::string parsed = json["nodes"][0]["name"];
  EXPECT_EQ(parsed, "evil\x1b[2J\x07\xef\xbf\xbd" + std::string(255 - 10, 'x'));
}

/// A type whose recorded name is 200 characters.
struct LongNamedType {
  static constexpr std::string_view floe_type_name =
      "a_type_name_that_goes_on_and_on_"
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567";
  std::uint64_t value;
};
static_assert(LongNamedType::floe_type_name.size() == 200);

TEST_F(FloeTool, ListStaysReadableWithLongNames) {
  const std::string long_service = "Long/" + std::string(195, 's');
  const std::string long_node(200, 'n');
  auto short_service = builder().max_clients(3).max_nodes(16).create();
  Node long_named = Node::create(long_node, config);
  auto service = long_named.service_builder(long_service)
                     .request_response<LongNamedType, std::uint64_t>()
                     .max_clients(3)
                     .max_nodes(16)
                     .create();
  const ToolRun list = floe_tool("list " + domain_option());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  // Every name whole, and the columns of the other rows where the heading puts them.
  EXPECT_NE(list.output.find(long_service), std::string::npos) << list.output;
  EXPECT_NE(list.output.find(std::string(LongNamedType::floe_type_name)), std::string::npos);
  EXPECT_NE(list.output.find(long_node + " (pid "), std::string::npos) << list.output;
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < list.output.size();) {
    const std::size_t end = list.output.find('\n', at);
    lines.push_back(list.output.substr(at, end - at));
    at = end + 1;
  }
  ASSERT_GE(lines.size(), 3u) << list.output;
  const std::size_t clients_column = lines[0].find("CLIENTS");
  const std::size_t state_column = lines[0].find("STATE");
  ASSERT_NE(clients_column, std::string::npos);
  EXPECT_LT(state_column, 200u) << "a long name widened the columns:\n" << list.output;
  int rows_with_counts = 0;
  for (const std::string& line : lines) {
    const std::size_t count = line.find("/3");  // "0/3" clients: the CLIENTS column
    if (line.find("/16") == std::string::npos || count == std::string::npos) continue;
    ++rows_with_counts;
    EXPECT_EQ(line.find_first_not_of(' ', clients_column), clients_column) << list.output;
    EXPECT_EQ(line.substr(state_column, 4), "live") << list.output;
  }
  EXPECT_EQ(rows_with_counts, 2) << list.output;
  const nlohmann::json json = floe_json("list --json " + domain_option());
  const nlohmann::json listed = element_with(json["services"], "name", long_service);
  EXPECT_EQ(listed["request_type"], std::string(LongNamedType::floe_type_name));
  EXPECT_EQ(listed["nodes"][0]["name"], long_node);
}

}  // namespace
}  // namespace floe::test
