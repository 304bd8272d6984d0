#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/fixture.hpp"

namespace floe {
namespace {

std::filesystem::path write_file(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("floe-config-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}

TEST(Config, TomlFileSetsDomainAndDefaultLimits) {
  const auto path = write_file(R"(
[global]
domain = "from_file"
[defaults.request_response]
max_clients = 3
max_response_buffer_size = 5
enable_safe_overflow_for_responses = false
)");
  const Config config = Config::from_file(path);
  EXPECT_EQ(config.domain, "from_file");
  EXPECT_EQ(config.request_response.max_clients, 3u);
  EXPECT_EQ(config.request_response.max_response_buffer_size, 5u);
  EXPECT_FALSE(config.request_response.enable_safe_overflow_for_responses);
  EXPECT_EQ(config.request_response.max_servers, RequestResponseLimits{}.max_servers);
  std::filesystem::remove(path);
}

TEST(Config, EnvironmentNamesFileAndDomainAndServicesUseTheDefaults) {
  const auto path = write_file("[defaults.request_response]\nmax_clients = 3\nmax_servers = 1\n");
  const std::string domain = test::isolated_config().domain;
  ::setenv("FLOE_CONFIG", path.c_str(), 1);
  ::setenv("FLOE_DOMAIN", domain.c_str(), 1);
  Node node = Node::create("env");
  ::unsetenv("FLOE_CONFIG");
  ::unsetenv("FLOE_DOMAIN");
  EXPECT_EQ(node.config().domain, domain);
  auto service = node.service_builder("Config/Defaults").request_response<int, int>().create();
  EXPECT_EQ(service.limits().max_clients, 3u);
  EXPECT_EQ(service.limits().max_servers, 1u);
  auto server = service.server_builder().create();
  try {
    auto second = service.server_builder().create();
    FAIL() << "a second server exceeds max_servers = 1 from the file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::exceeds_max_servers);
  }
  std::filesystem::remove(path);
}

TEST(Config, UnusableFilesGiveInvalidConfig) {
  for (const char* text : {"[defaults.request_response]\nmax_clients = -1\n",
                           "[defaults.request_response]\nmax_clients = \"eight\"\n",
                           "[global]\ndomain = \"no/slashes\"\n", "this is not toml ["}) {
    const auto path = write_file(text);
    try {
      Config::from_file(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_config) << text;
    }
    std::filesystem::remove(path);
  }
  ::setenv("FLOE_DOMAIN", "bad domain", 1);
  EXPECT_THROW(Config::from_environment(), Error);
  ::unsetenv("FLOE_DOMAIN");
}

/// The message of the floe::Error(invalid_config) that reading `path` throws, "" if none.
std::string config_error(const std::filesystem::path& path) {
  try {
    Config::from_file(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_config) << e.what();
    return e.what();
  }
  return "";
}

std::string config_text_error(const std::string& text) {
  const auto path = write_file(text);
  std::string message = config_error(path);
  std::filesystem::remove(path);
  return message;
}

/// A directory of the test's own, removed with what is in it.
struct TemporaryDirectory {
  std::filesystem::path path;
  TemporaryDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "floe-config-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST(Config, MisspeltKeyIsRejectedWithItsPathAndASuggestion) {
  const auto path = write_file("[defaults.request_response]\nmax_servers = 1\nmax_client = 3\n");
  const std::string message = config_error(path);
  std::filesystem::remove(path);
  EXPECT_NE(message.find(path.string() + ":3:1:"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown key 'defaults.request_response.max_client'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("did you mean 'max_clients'?"), std::string::npos) << message;

  // Dotted keys name the same table: just as strict.
  const std::string dotted =
      config_text_error("defaults.request_response.enable_safe_overflow = true\n");
  EXPECT_NE(dotted.find("'defaults.request_response.enable_safe_overflow'"), std::string::npos)
      << dotted;
  EXPECT_NE(config_text_error("[global]\ndomian = \"x\"\n").find("did you mean 'domain'?"),
            std::string::npos);
  // Nothing close: no suggestion, but what is known there.
  const std::string far = config_text_error("[global]\ncolour = \"blue\"\n");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  EXPECT_NE(far.find("domain, group_access"), std::string::npos) << far;
}

TEST(Config, UnknownSectionsAreRejected) {
  std::string message = config_text_error("[defaults.publish_subscribe]\nmax_publishers = 2\n");
  EXPECT_NE(message.find("unknown section 'defaults.publish_subscribe'"), std::string::npos)
      << message;
  message = config_text_error("[globl]\ndomain = \"x\"\n");
  EXPECT_NE(message.find(":1:"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown section 'globl' — did you mean 'global'?"), std::string::npos)
      << message;
  message = config_text_error("global = 3\n");
  EXPECT_NE(message.find("'global' must be a table"), std::string::npos) << message;
}

TEST(Config, ParseAndValueErrorsCarryLineAndColumn) {
  const auto path = write_file("[global]\n\ndomain = \n");
  std::string message = config_error(path);
  std::filesystem::remove(path);
  EXPECT_NE(message.find(path.string() + ":3:"), std::string::npos) << message;

  message = config_text_error("[defaults.request_response]\nmax_clients = \"eight\"\n");
  EXPECT_NE(message.find(":2:15: 'defaults.request_response.max_clients' must be an integer"),
            std::string::npos)
      << message;
  message = config_text_error("[defaults.request_response]\n\n  max_servers = 70000\n");
  EXPECT_NE(message.find(":3:17:"), std::string::npos) << message;
  message = config_text_error("[global]\ngroup_access = 1\n");
  EXPECT_NE(message.find(":2:16: 'global.group_access' must be true or false"), std::string::npos)
      << message;
}

TEST(Config, FifoIsRejectedWithoutBlocking) {
  TemporaryDirectory dir;
  const auto fifo = dir.path / "floe.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // In a child: if reading blocked on the FIFO (no writer ever comes) the bounded wait below
  // kills it and the test fails instead of hanging.
  test::ChildProcess child([&] {
    const auto start = std::chrono::steady_clock::now();
    ::setenv("FLOE_CONFIG", fifo.c_str(), 1);
    try {
      Node::create("fifo");
      return 1;
    } catch (const Error& e) {
      const std::string message = e.what();
      FLOE_CHILD_CHECK(e.code() == Errc::invalid_config);
      FLOE_CHILD_CHECK(message.find(fifo.string()) != std::string::npos);
      FLOE_CHILD_CHECK(message.find("is a FIFO, not a regular file") != std::string::npos);
      FLOE_CHILD_CHECK(message.find("FLOE_CONFIG") != std::string::npos);
    }
    FLOE_CHILD_CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    return 0;
  });
  EXPECT_EQ(child.wait(std::chrono::seconds(5)), 0);
}

TEST(Config, DirectoriesDevicesAndMissingFilesAreRejected) {
  TemporaryDirectory dir;
  EXPECT_NE(config_error(dir.path).find("is a directory, not a regular file"), std::string::npos);
  EXPECT_NE(config_error(std::filesystem::path("/dev/null")).find("is a character device"),
            std::string::npos);
  ::setenv("FLOE_CONFIG", (dir.path / "absent.toml").c_str(), 1);
  try {
    Config::from_environment();
    ADD_FAILURE() << "a missing FLOE_CONFIG file was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), Errc::invalid_config);
    EXPECT_NE(message.find("absent.toml' (named by FLOE_CONFIG) does not exist"), std::string::npos)
        << message;
  }
  ::unsetenv("FLOE_CONFIG");
}

/// "max_servers = 65 is out of range: it must be from 1 to 64 (...)": what the file and service
/// creation both say of a value outside a limit's range.
std::string out_of_range_text(const detail::LimitInfo& limit, std::uint64_t value) {
  return std::string(limit.name) + " = " + std::to_string(value) +
         " is out of range: it must be from " + std::to_string(limit.min) + " to " +
         std::to_string(limit.max) + " (" + std::string(limit.bound) + ")";
}

TEST(Config, AValueOutOfRangeIsRefusedAlikeByTheFileAndByServiceCreation) {
  for (const detail::LimitInfo& limit : detail::kLimits) {
    if (limit.is_flag) continue;
    for (const std::uint64_t value : {std::uint64_t{limit.max} + 1}) {
      const std::string expected = out_of_range_text(limit, value);
      const std::string file =
          config_text_error("[defaults.request_response]\n" + std::string(limit.name) + " = " +
                            std::to_string(value) + "\n");
      EXPECT_NE(file.find(expected), std::string::npos) << file;
      EXPECT_NE(file.find(":2:"), std::string::npos) << "names the line: " << file;

      // The same value from code: a Config made by hand, refused when the service is created.
      Config config = test::isolated_config();
      detail::set_limit_value(config.request_response, limit.id, static_cast<std::uint32_t>(value));
      Node node = Node::create("range", config);
      try {
        node.service_builder("Config/Range").request_response<int, int>().create();
        ADD_FAILURE() << "created with " << expected;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::incompatible_limits);
        EXPECT_NE(std::string(e.what()).find("service 'Config/Range': " + expected),
                  std::string::npos)
            << e.what();
      }
    }
  }
  // A builder call is checked the same way, by open() as by create().
  Node node = Node::create("range", test::isolated_config());
  const std::string expected =
      out_of_range_text(detail::limit_info(detail::LimitId::max_servers), 65);
  for (const bool create : {true, false}) {
    auto builder = node.service_builder("Config/Range").request_response<int, int>();
    try {
      if (create) {
        builder.max_servers(65).create();
      } else {
        builder.max_servers(65).open();
      }
      ADD_FAILURE() << "accepted max_servers = 65";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::incompatible_limits);
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  // The largest value in range is taken, by the file and by creation.
  const auto path = write_file("[defaults.request_response]\nmax_servers = 64\n");
  Config config = Config::from_file(path);
  std::filesystem::remove(path);
  EXPECT_EQ(config.request_response.max_servers, 64u);
  config.domain = test::isolated_config().domain;
  auto service = Node::create("range", config)
                     .service_builder("Config/Range")
                     .request_response<int, int>()
                     .max_clients(1)
                     .max_active_requests_per_client(1)
                     .create();
  EXPECT_EQ(service.limits().max_servers, 64u);
}

TEST(Config, ACountOfZeroIsTakenAsOneByTheFileTheConfigAndTheBuilder) {
  std::string file = "[defaults.request_response]\n";
  Config by_hand = test::isolated_config();
  for (const detail::LimitInfo& limit : detail::kLimits) {
    if (limit.is_flag) continue;
    ASSERT_EQ(limit.min, 1u) << limit.name << ": every count's least value is 1";
    file += std::string(limit.name) + " = 0\n";
    detail::set_limit_value(by_hand.request_response, limit.id, 0);
  }
  const auto path = write_file(file);
  const Config from_file = Config::from_file(path);
  std::filesystem::remove(path);
  RequestResponseLimits ones;
  for (const detail::LimitInfo& limit : detail::kLimits) {
    if (!limit.is_flag) detail::set_limit_value(ones, limit.id, 1);
  }
  EXPECT_EQ(from_file.request_response, ones);

  // A Config made in code, and the builder's setters, are raised the same way at creation.
  Node node = Node::create("zero", by_hand);
  auto from_config = node.service_builder("Config/Zero").request_response<int, int>().create();
  EXPECT_EQ(from_config.limits(), ones);
  auto from_builder = Node::create("zero", test::isolated_config())
                          .service_builder("Config/Zero")
                          .request_response<int, int>()
                          .max_clients(0)
                          .max_servers(0)
                          .max_nodes(0)
                          .max_active_requests_per_client(0)
                          .max_loaned_requests(0)
                          .max_response_buffer_size(0)
                          .max_borrowed_responses_per_pending_response(0)
                          .max_loaned_responses_per_request(0)
                          .create();
  EXPECT_EQ(from_builder.limits().max_clients, 1u);
  EXPECT_EQ(from_builder.limits().max_servers, 1u);
  EXPECT_EQ(from_builder.limits().max_nodes, 1u);
  EXPECT_EQ(from_builder.limits().max_loaned_responses_per_request, 1u);
  // And a service with one of each works: one request, one response.
  auto server = from_builder.server_builder().create();
  auto client = from_builder.client_builder().create();
  auto pending = client.send_copy(41);
  auto active = test::receive_within(server);
  ASSERT_TRUE(active);
  ASSERT_TRUE(active->send_copy(active->payload() + 1));
  auto response = test::receive_within(pending);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload(), 42);
  // Opening with 0 asks for at least 1, which any service satisfies.
  auto opened = node.service_builder("Config/Zero").request_response<int, int>().max_clients(0);
  EXPECT_EQ(opened.open().limits().max_clients, 1u);
}

TEST(Config, TheApiReferenceListsEveryLimitWithItsDefaultAndRange) {
  std::ifstream reference(std::string(FLOE_SOURCE_DIR) + "/docs/API.md");
  ASSERT_TRUE(reference) << "docs/API.md not found under " << FLOE_SOURCE_DIR;
  // docs/API.md's TOML block, from its [defaults.request_response] line to the fence.
  std::string line, block;
  bool inside = false;
  while (std::getline(reference, line)) {
    if (line.starts_with("[defaults.request_response]")) inside = true;
    if (inside && line.starts_with("```")) break;
    if (inside) block += line + "\n";
  }
  ASSERT_FALSE(block.empty());
  for (const detail::LimitInfo& limit : detail::kLimits) {
    const std::string value = limit.is_flag ? (limit.default_value != 0 ? "true" : "false")
                                            : std::to_string(limit.default_value);
    const std::size_t at = block.find("\n" + std::string(limit.name) + " = " + value + " ");
    const std::size_t flag_at = block.find("\n" + std::string(limit.name) + " = " + value + "\n");
    ASSERT_NE(limit.is_flag ? flag_at : at, std::string::npos)
        << limit.name << " = " << value << " is missing:\n"
        << block;
    if (limit.is_flag) continue;
    const std::string row = block.substr(at + 1, block.find('\n', at + 1) - at - 1);
    EXPECT_TRUE(
        row.ends_with("# " + std::to_string(limit.min) + " to " + std::to_string(limit.max)))
        << row;
  }
  // And the block is a config file that gives the defaults.
  const auto path = write_file(block);
  EXPECT_EQ(Config::from_file(path).request_response, RequestResponseLimits{});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace floe
