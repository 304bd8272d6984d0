// floe's log: off by default, FLOE_LOG read once, a sink of the user's, and the events a user
// needs to tell why a stream stopped (services created, opened, removed; peers found dead;
// limits hit), each raised by real processes.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "log.hpp"
#include "registry/names.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

/// Every event logged while it lives, level and text; the default sink and level come back
/// after it.
class CapturedLog {
 public:
  explicit CapturedLog(LogLevel level = LogLevel::debug) {
    set_log_level(level);
    set_log_sink([this](LogLevel event_level, std::string_view message) {
      const std::lock_guard lock(mutex_);
      lines_.push_back(std::string(to_string(event_level)) + ": " + std::string(message));
    });
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  ~CapturedLog() {
    set_log_sink(nullptr);
    set_log_level(LogLevel::off);
  }

  std::vector<std::string> lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }
  /// The lines that contain every one of `parts`.
  std::vector<std::string> matching(std::initializer_list<std::string> parts) const {
    std::vector<std::string> found;
    for (const std::string& line : lines()) {
      bool all = true;
      for (const std::string& part : parts)
        all = all && line.find(part) != std::string::npos;
      if (all) found.push_back(line);
    }
    return found;
  }
  std::string all() const {
    std::string text;
    for (const std::string& line : lines())
      text += line + "\n";
    return text;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

class LogTest : public U64ServiceTest {
 protected:
  /// "service 'Test/Service' (domain test123_0)": how the events name this test's service.
  std::string named() const { return "service 'Test/Service' (domain " + config.domain + ")"; }
};

TEST_F(LogTest, CreateOpenAndRemoveAreLoggedWithServiceDomainAndPid) {
  CapturedLog log;
  const std::string pid = std::to_string(::getpid());
  {
    auto created = builder().create();
    Node other = Node::create("other", config);
    auto opened = builder(other).open();
    auto again = builder(other).open();
    EXPECT_EQ(log.matching({"info: ", named(), " created by pid " + pid, "KiB"}).size(), 1u)
        << log.all();
    EXPECT_EQ(log.matching({"info: ", named(), " opened by pid " + pid, "as node 1"}).size(), 1u)
        << log.all();
    EXPECT_EQ(log.matching({"debug: ", named(), " opened again by pid " + pid}).size(), 1u)
        << log.all();
    EXPECT_TRUE(log.matching({" removed"}).empty()) << log.all();
  }
  EXPECT_EQ(log.matching({"info: ", named(), " removed: its last node", "pid " + pid}).size(), 1u)
      << log.all();
}

TEST_F(LogTest, AFailedOpenSaysWhy) {
  CapturedLog log;
  EXPECT_EQ(error_of([&] { builder().open(); }), Errc::service_does_not_exist);
  EXPECT_EQ(log.matching({"debug: ", named(), ": open by pid", "does not exist"}).size(), 1u)
      << log.all();
}

TEST_F(LogTest, AStaleServiceRemovedAtOpenIsLogged) {
  CapturedLog log;
  {
    ChildProcess creator = started([&](const Signal& ready) {
      Node other = Node::create("doomed", config);
      auto service = builder(other).create();
      ready.notify();
      return wait_to_be_killed();
    });
    creator.kill();
  }
  auto service = builder().open_or_create();
  EXPECT_EQ(log.matching({"info: ", named(), " removed at open by pid", "stale"}).size(), 1u)
      << log.all();
  EXPECT_EQ(log.matching({named(), " created by pid " + std::to_string(::getpid())}).size(), 1u)
      << log.all();
}

TEST_F(LogTest, ASigkilledPeerIsDeclaredDeadWithItsPidWhenReclaimed) {
  CapturedLog log;
  auto service = builder().create();
  ChildProcess peer = started([&](const Signal& ready) {
    auto remote = open_as("doomed");
    auto client = remote.client_builder().create();
    auto server = remote.server_builder().create();
    ready.notify();
    return wait_to_be_killed();
  });
  const std::string pid = std::to_string(peer.pid());
  peer.kill();
  EXPECT_TRUE(log.matching({" dead"}).empty()) << log.all();
  const DeadNodeCleanup cleaned = node.clean_up_dead_nodes();
  EXPECT_EQ(cleaned.nodes, 1u);
  const auto dead =
      log.matching({"info: ", named(), "of pid " + pid + " is dead", "liveness lock was released",
                    "clean_up_dead_nodes", "1 client(s) and 1 server(s)"});
  EXPECT_EQ(dead.size(), 1u) << log.all();
}

TEST_F(LogTest, AClientWhoseServerWasKilledLogsTheEndOfItsStream) {
  CapturedLog log;
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal received;
  ChildProcess server = server_answering([&](auto&) {
    received.notify();
    return wait_to_be_killed();
  });
  auto pending = client.send_copy(7);
  ASSERT_EQ(received.wait(), 1);
  const std::string pid = std::to_string(server.pid());
  server.kill();
  EXPECT_TRUE(receive_stream(pending).empty());
  EXPECT_EQ(log.matching({"info: ", named(), ": client 0 of pid", "found server 0 of pid " + pid,
                          "dead", "its stream of the request ends"})
                .size(),
            1u)
      << log.all();
  EXPECT_EQ(log.matching({"of pid " + pid + " is dead"}).size(), 1u) << log.all();
}

TEST_F(LogTest, AServerWhoseClientWasKilledLogsIt) {
  CapturedLog log;
  auto service = builder().create();
  auto server = service.server_builder().create();
  ChildProcess client = client_that_sent(5);
  auto active = receive_within(server);
  ASSERT_TRUE(active);
  const std::string pid = std::to_string(client.pid());
  client.kill();
  EXPECT_FALSE(active->is_connected());
  EXPECT_EQ(log.matching({"info: ", named(), ": server 0 of pid", "found client 0 of pid " + pid,
                          "dead", "no longer listened to"})
                .size(),
            1u)
      << log.all();
}

TEST_F(LogTest, LimitsHitAreWarnedWithTheirValueOncePerPort) {
  CapturedLog log(LogLevel::warn);
  auto service = builder().max_clients(1).max_loaned_requests(1).create();
  auto client = service.client_builder().create();
  EXPECT_EQ(error_of([&] { service.client_builder().create(); }), Errc::exceeds_max_clients);
  EXPECT_EQ(log.matching({"warn: ", named(), "all max_clients = 1"}).size(), 1u) << log.all();

  auto loan = client.loan();
  for (int attempt = 0; attempt < 3; ++attempt) {
    EXPECT_EQ(error_of([&] { client.loan(); }), Errc::exceeds_max_loans);
  }
  EXPECT_EQ(log.matching({"warn: ", named(), ": client 0 of pid", "hit max_loaned_requests = 1",
                          "once per port"})
                .size(),
            1u)
      << log.all();
  // Below the level: the creation is info, not logged at warn.
  EXPECT_TRUE(log.matching({" created by"}).empty()) << log.all();
}

TEST_F(LogTest, ASegmentShrunkUnderThisProcessIsAnErrorThenReplacedAtOpen) {
  CapturedLog log;
  auto service = builder().create();
  auto client = service.client_builder().create();
  const std::string object = detail::service_object_name(config.domain, "Test/Service");
  ASSERT_EQ(::truncate(("/dev/shm" + object).c_str(), 0), 0);
  EXPECT_EQ(error_of([&] { (void)client.send_copy(1); }), Errc::corrupted);
  EXPECT_EQ(error_of([&] { (void)client.send_copy(2); }), Errc::corrupted);
  EXPECT_EQ(log.matching({"error: ", named(), "another process shrank its shared-memory segment",
                          object, "SIGBUS"})
                .size(),
            1u)
      << log.all();
  Node newcomer = Node::create("newcomer", config);
  auto replaced = builder(newcomer).open_or_create();
  EXPECT_EQ(log.matching({"error: ", named(), " removed at open by pid", "damaged"}).size(), 1u)
      << log.all();
}

TEST_F(LogTest, TheConfigFileReadOrRefusedIsLogged) {
  CapturedLog log;
  const std::string path = "/tmp/floe_log_test_" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream file(path);
    file << "[global]\ndomain = \"logged\"\n";
  }
  EXPECT_EQ(Config::from_file(path).domain, "logged");
  EXPECT_EQ(log.matching({"info: config file '" + path + "' loaded: domain logged"}).size(), 1u)
      << log.all();
  {
    std::ofstream file(path);
    file << "[global]\ndomian = \"typo\"\n";
  }
  EXPECT_EQ(error_of([&] { Config::from_file(path); }), Errc::invalid_config);
  EXPECT_EQ(log.matching({"warn: config not used: ", path, "domian"}).size(), 1u) << log.all();
  ::unlink(path.c_str());
}

TEST(Log, TheEpollFallbackIsLoggedOncePerProcess) {
  CapturedLog log(LogLevel::info);
  const char* before = std::getenv("FLOE_DISABLE_IO_URING");
  const std::string saved = before != nullptr ? before : "";
  ::setenv("FLOE_DISABLE_IO_URING", "1", 1);
  {
    Runtime first;
    Runtime second;
    EXPECT_FALSE(first.uses_io_uring());
  }
  if (before != nullptr) {
    ::setenv("FLOE_DISABLE_IO_URING", saved.c_str(), 1);
  } else {
    ::unsetenv("FLOE_DISABLE_IO_URING");
  }
  EXPECT_EQ(log.matching({"info: the runtime uses epoll: FLOE_DISABLE_IO_URING=1"}).size(), 1u)
      << log.all();
}

TEST_F(LogTest, ARoundTripLogsNothingEvenAtDebug) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  auto server = service.server_builder().create();
  CapturedLog log(LogLevel::debug);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    auto request = client.loan();
    *request = i;
    auto pending = std::move(request).send();
    auto active = server.try_receive();
    ASSERT_TRUE(active);
    ASSERT_TRUE(active->send_copy(i + 1));
    auto response = pending.try_receive();
    ASSERT_TRUE(response);
  }
  EXPECT_TRUE(log.lines().empty()) << log.all();
}

TEST(Log, TheSetterOverridesAndTheNamesAreTheEnvironmentsValues) {
  set_log_level(LogLevel::warn);
  EXPECT_EQ(log_level(), LogLevel::warn);
  EXPECT_TRUE(detail::log_enabled(LogLevel::error));
  EXPECT_FALSE(detail::log_enabled(LogLevel::info));
  set_log_level(LogLevel::off);
  EXPECT_FALSE(detail::log_enabled(LogLevel::error));
  EXPECT_EQ(to_string(LogLevel::debug), "debug");
  EXPECT_EQ(to_string(LogLevel::off), "off");
}

TEST(Log, FloeLoggingFromInsideASinkIsDroppedNotDeadlocked) {
  std::atomic<int> calls{0};
  set_log_level(LogLevel::info);
  set_log_sink([&](LogLevel, std::string_view) {
    ++calls;
    detail::write_log(LogLevel::error, "from inside the sink");
  });
  detail::write_log(LogLevel::info, "outside");
  set_log_sink(nullptr);
  set_log_level(LogLevel::off);
  EXPECT_EQ(calls.load(), 1);
}

TEST(Log, SinksSetWhileOtherThreadsLogAreNeverCalledOnceReplaced) {
  set_log_level(LogLevel::info);
  constexpr int kSinks = 50;
  std::vector<std::atomic<int>> calls(kSinks);
  std::atomic<bool> done{false};
  std::vector<std::thread> loggers;
  for (int t = 0; t < 3; ++t) {
    loggers.emplace_back([&] {
      Node node = Node::create("logger", isolated_config());
      while (!done.load()) {
        auto service =
            node.service_builder("Log/Threads").request_response<int, int>().open_or_create();
        detail::log(LogLevel::info, [] { return std::string("a line"); });
      }
    });
  }
  for (int s = 0; s < kSinks; ++s) {
    set_log_sink([&calls, s](LogLevel, std::string_view message) {
      EXPECT_FALSE(message.empty());
      ++calls[s];
    });
    // Each sink is replaced only after the loggers have reached it, however slowly a loaded
    // machine schedules them: a fixed sleep let a busy CI replace sinks no thread had called.
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (calls[s].load() == 0 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(1ms);
    EXPECT_GT(calls[s].load(), 0) << "no logger reached sink " << s << " within 10 s";
  }
  set_log_sink([](LogLevel, std::string_view) {});
  std::vector<int> after_replaced(kSinks);
  for (int s = 0; s < kSinks; ++s)
    after_replaced[s] = calls[s].load();
  std::this_thread::sleep_for(20ms);
  done = true;
  for (std::thread& logger : loggers)
    logger.join();
  set_log_sink(nullptr);
  set_log_level(LogLevel::off);
  for (int s = 0; s < kSinks; ++s)
    EXPECT_EQ(calls[s].load(), after_replaced[s]) << "sink " << s << " called after replaced";
}

// The functions on a message's way, in the ports' sources: none looks at the log level. What
// ports log goes through ports/port_log.hpp's cold, out-of-line functions, called on failure
// branches only (that they are only there is for review; this holds the inline part).
std::string function_body(const std::string& source, const std::string& name) {
  const std::size_t at = source.find(name + "(");
  if (at == std::string::npos) return {};
  std::size_t open = source.find('{', at);
  int depth = 0;
  for (std::size_t i = open; i < source.size(); ++i) {
    if (source[i] == '{') ++depth;
    if (source[i] == '}' && --depth == 0) return source.substr(open, i - open + 1);
  }
  return {};
}

std::string read_source(const std::string& path) {
  std::ifstream file(std::string(FLOE_SOURCE_DIR) + "/" + path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(Log, NoFunctionOnAMessagesWayTestsTheLevel) {
  const std::regex level_test(R"(\b(log|log_enabled|write_log|log_level)\s*\(|LogLevel::)");
  const std::pair<const char*, std::vector<std::string>> hot[] = {
      {"src/ports/client_core.cpp",
       {"ClientCore::loan", "ClientCore::try_loan", "ClientCore::release_loan",
        "ClientCore::notify_slot_freed", "ClientCore::send", "ClientCore::try_send",
        "ClientCore::try_receive", "ClientCore::release_response", "ClientCore::has_response",
        "ClientCore::drop_pending"}},
      {"src/ports/server_core.cpp",
       {"ServerCore::try_receive", "ServerCore::take_from", "ServerCore::loan",
        "ServerCore::close_stream", "ServerCore::release_loan", "ServerCore::try_send",
        "ServerCore::send", "ServerCore::end", "ServerCore::ring_client"}},
  };
  for (const auto& [path, functions] : hot) {
    const std::string source = read_source(path);
    ASSERT_FALSE(source.empty()) << path;
    for (const std::string& function : functions) {
      const std::string body = function_body(source, function);
      ASSERT_FALSE(body.empty()) << function << " not found in " << path;
      EXPECT_FALSE(std::regex_search(body, level_test)) << function << " looks at the log level";
    }
  }
  const std::string port_log = read_source("src/ports/port_log.hpp");
  const std::regex cold(R"(\[\[gnu::cold, gnu::noinline\]\] void log_)");
  EXPECT_EQ(std::distance(std::sregex_iterator(port_log.begin(), port_log.end(), cold),
                          std::sregex_iterator()),
            3);
}

// FLOE_LOG, read by a process of its own: this test binary run again for one test only.

/// What the child test writes to stderr, run with FLOE_LOG set to `value` (or unset: nullptr).
std::string stderr_of_child_with_floe_log(const char* value) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    if (value != nullptr) {
      ::setenv("FLOE_LOG", value, 1);
    } else {
      ::unsetenv("FLOE_LOG");
    }
    ::setenv("FLOE_LOG_TEST_CHILD", "1", 1);
    ::execl("/proc/self/exe", "floe_tests", "--gtest_filter=LogChild.CreatesAndRemovesAService",
            nullptr);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string output;
  char buffer[4096];
  pollfd readable{pipe_fds[0], POLLIN, 0};
  while (::poll(&readable, 1, 30000) == 1) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::kill(pid, SIGKILL);  // gone already unless stuck
  ::waitpid(pid, &status, 0);
  return output;
}

TEST(LogChild, CreatesAndRemovesAService) {
  if (std::getenv("FLOE_LOG_TEST_CHILD") == nullptr) GTEST_SKIP() << "run by FloeLogEnvironment";
  Node node = Node::create("child", isolated_config());
  auto service = node.service_builder("Log/Child").request_response<int, int>().create();
}

TEST(FloeLogEnvironment, InfoLogsOneLinePerEventToStderr) {
  const std::string output = stderr_of_child_with_floe_log("info");
  const std::regex created(
      R"(floe\[pid \d+\] info: service 'Log/Child' \(domain test\d+_\d+_0\) created by pid \d+ \([0-9.]+ [KMG]iB at /dev/shm/floe\.test\d+_\d+_0\.[0-9a-f]{16}\)\n)");
  EXPECT_TRUE(std::regex_search(output, created)) << output;
  const std::regex removed(
      R"(floe\[pid \d+\] info: service 'Log/Child' \(domain test\d+_\d+_0\) removed: its last node)");
  EXPECT_TRUE(std::regex_search(output, removed)) << output;
}

TEST(FloeLogEnvironment, UnsetLogsNothing) {
  const std::string output = stderr_of_child_with_floe_log(nullptr);
  EXPECT_EQ(output.find("floe"), std::string::npos) << output;
}

TEST(FloeLogEnvironment, WarnHidesInfo) {
  const std::string output = stderr_of_child_with_floe_log("warn");
  EXPECT_EQ(output.find("floe"), std::string::npos) << output;
}

TEST(FloeLogEnvironment, AnInvalidValueWarnsOnceWithTheAcceptedValuesThenIsOff) {
  const std::string output = stderr_of_child_with_floe_log("loud");
  EXPECT_EQ(output,
            "floe: FLOE_LOG='loud' is not a log level; want debug, info, warn, error or off. "
            "Logging is off\n");
}

}  // namespace
}  // namespace floe::test
