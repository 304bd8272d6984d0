// The floe command-line tool, run as a user runs it, against services of real processes.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "registry/names.hpp"
#include "support/fixture.hpp"

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

class FloeTool : public U64ServiceTest {
 protected:
  std::string domain_option() const { return "--domain " + config.domain; }
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

  const ToolRun missing = floe_tool("inspect No/Such/Service " + domain_option());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no service 'No/Such/Service'"), std::string::npos);
  const ToolRun unknown = floe_tool("frobnicate");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("subcommand"), std::string::npos) << unknown.output;
}

TEST_F(FloeTool, CleanRemovesWhatDeadProcessesLeftAndKeepsWhatIsUsed) {
  auto live = builder().create();
  // Two services whose only process was killed; the second then shrunk by someone, so damaged.
  for (const char* name : {"Test/Crashed", "Test/Shrunk"}) {
    ChildProcess crashed([&] {
      Node other = Node::create("crashed", config);
      auto service =
          other.service_builder(name).request_response<std::uint64_t, std::uint64_t>().create();
      ::raise(SIGKILL);
      return 0;
    });
    ASSERT_EQ(crashed.wait(), 128 + SIGKILL);
  }
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

}  // namespace
}  // namespace floe::test
