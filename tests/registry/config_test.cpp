#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/process.hpp"

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
  for (const char* text : {"[defaults.request_response]\nmax_clients = 0\n",
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

}  // namespace
}  // namespace floe
