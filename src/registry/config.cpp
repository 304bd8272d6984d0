#include <sys/stat.h>

#include <toml++/toml.h>

#include <array>
#include <cstdlib>
#include <string>
#include <string_view>

#include "floe/config.hpp"
#include "floe/error.hpp"
#include "log.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"
#include "registry/toml_file.hpp"

namespace floe {
namespace {

constexpr std::string_view kRootKeys[] = {"global", "defaults"};
constexpr std::string_view kGlobalKeys[] = {"domain", "group_access"};
constexpr std::string_view kDefaultsKeys[] = {"request_response"};
constexpr auto kLimitKeys = [] {
  std::array<std::string_view, std::size(detail::kLimits)> keys{};
  for (std::size_t i = 0; i < keys.size(); ++i)
    keys[i] = detail::kLimits[i].name;
  return keys;
}();

/// Every limit the section names, each checked against its one range.
void read_limits(const toml::table& table, RequestResponseLimits& limits,
                 const detail::TomlFile& file) {
  for (const detail::LimitInfo& limit : detail::kLimits) {
    const toml::node* node = table.get(limit.name);
    if (node == nullptr) continue;
    const std::string full = "defaults.request_response." + std::string(limit.name);
    if (limit.is_flag) {
      const auto value = node->value_exact<bool>();
      if (!value) file.fail(node->source(), "'" + full + "' must be true or false");
      detail::set_limit_value(limits, limit.id, *value);
      continue;
    }
    auto value = node->value_exact<std::int64_t>();
    if (value) value = detail::sane_value(limit, *value);
    if (!value) {
      file.fail(node->source(), "'" + full + "' must be an integer from " +
                                    std::to_string(limit.min) + " to " + std::to_string(limit.max));
    }
    if (!limit.contains(*value)) {
      file.fail(node->source(), detail::out_of_range_message(limit, *value));
    }
    detail::set_limit_value(limits, limit.id, static_cast<std::uint32_t>(*value));
  }
}

Config load(const std::filesystem::path& path, const char* origin) {
  const detail::TomlFile file(path, "floe", origin);
  const toml::table& root = file.root();
  file.reject_unknown_keys(root, "", kRootKeys);

  Config config;
  if (const toml::table* global = file.section(root, "global", "global")) {
    file.reject_unknown_keys(*global, "global.", kGlobalKeys);
    if (const toml::node* domain = global->get("domain")) {
      auto value = domain->value_exact<std::string>();
      if (!value || !detail::is_valid_domain(*value)) {
        file.fail(domain->source(), "'global.domain' must be 1 to 64 of [A-Za-z0-9_-]");
      }
      config.domain = *value;
    }
    if (const toml::node* group = global->get("group_access")) {
      auto value = group->value_exact<bool>();
      if (!value) file.fail(group->source(), "'global.group_access' must be true or false");
      config.group_access = *value;
    }
  }
  if (const toml::table* defaults = file.section(root, "defaults", "defaults")) {
    file.reject_unknown_keys(*defaults, "defaults.", kDefaultsKeys);
    if (const toml::table* rr =
            file.section(*defaults, "request_response", "defaults.request_response")) {
      file.reject_unknown_keys(*rr, "defaults.request_response.", kLimitKeys);
      read_limits(*rr, config.request_response, file);
    }
  }
  return config;
}

/// load(), and what it did in the log: which file was read, or why it could not be used.
Config load_logged(const std::filesystem::path& path, const char* origin) {
  try {
    Config config = load(path, origin);
    detail::log(LogLevel::info, [&] {
      return "config file '" + path.string() + "'" + detail::origin_note(origin) +
             " loaded: domain " + config.domain + (config.group_access ? ", group access" : "");
    });
    return config;
  } catch (const Error& e) {
    detail::log(LogLevel::warn, [&] { return std::string("config not used: ") + e.what(); });
    throw;
  }
}

}  // namespace

Config Config::from_file(const std::filesystem::path& path) {
  return load_logged(path, nullptr);
}

Config Config::from_environment() {
  Config config;
  if (const char* file = std::getenv("FLOE_CONFIG"); file != nullptr && *file != '\0') {
    config = load_logged(file, "FLOE_CONFIG");
  } else if (struct stat st{}; ::stat("/etc/floe/floe.toml", &st) == 0) {
    // Present in any form: a directory or FIFO there is a mistake to report, not to skip.
    config = load_logged("/etc/floe/floe.toml", nullptr);
  }
  if (const char* domain = std::getenv("FLOE_DOMAIN"); domain != nullptr && *domain != '\0') {
    if (!detail::is_valid_domain(domain)) {
      detail::log(LogLevel::warn, [&] {
        return std::string("config not used: FLOE_DOMAIN '") + domain + "' is not a domain";
      });
      throw Error(Errc::invalid_config, std::string("floe: FLOE_DOMAIN '") + domain +
                                            "' is not a domain: set it to 1 to 64 of A-Z, a-z, "
                                            "0-9, _ and -, or unset it");
    }
    config.domain = domain;
  }
  return config;
}

}  // namespace floe
