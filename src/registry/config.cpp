#include <toml++/toml.h>

#include <cstdlib>
#include <string>

#include "floe/config.hpp"
#include "floe/error.hpp"
#include "registry/names.hpp"

namespace floe {
namespace {

template <typename Field>
void read_limit(const toml::table& table, const char* key, Field& field,
                const std::filesystem::path& path) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return;
  if constexpr (std::is_same_v<Field, bool>) {
    auto value = node->value<bool>();
    if (!value) {
      throw Error(Errc::invalid_config, path.string() + ": '" + key + "' must be true or false");
    }
    field = *value;
  } else {
    auto value = node->value<std::int64_t>();
    if (!value || *value < 1 || *value > 65535) {
      throw Error(Errc::invalid_config,
                  path.string() + ": '" + key + "' must be an integer from 1 to 65535");
    }
    field = static_cast<Field>(*value);
  }
}

}  // namespace

Config Config::from_file(const std::filesystem::path& path) {
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    throw Error(Errc::invalid_config, path.string() + ": " + std::string(e.description()));
  }
  Config config;
  if (const auto* global = root["global"].as_table()) {
    if (const auto* domain = global->get("domain")) {
      auto value = domain->value<std::string>();
      if (!value || !detail::is_valid_domain(*value)) {
        throw Error(Errc::invalid_config,
                    path.string() + ": 'global.domain' must be 1 to 64 of [A-Za-z0-9_-]");
      }
      config.domain = *value;
    }
    if (const auto* group = global->get("group_access")) {
      auto value = group->value<bool>();
      if (!value) {
        throw Error(Errc::invalid_config,
                    path.string() + ": 'global.group_access' must be a boolean");
      }
      config.group_access = *value;
    }
  }
  if (const auto* defaults = root["defaults"]["request_response"].as_table()) {
    auto& l = config.request_response;
    read_limit(*defaults, "max_clients", l.max_clients, path);
    read_limit(*defaults, "max_servers", l.max_servers, path);
    read_limit(*defaults, "max_nodes", l.max_nodes, path);
    read_limit(*defaults, "max_active_requests_per_client", l.max_active_requests_per_client, path);
    read_limit(*defaults, "max_loaned_requests", l.max_loaned_requests, path);
    read_limit(*defaults, "max_response_buffer_size", l.max_response_buffer_size, path);
    read_limit(*defaults, "max_borrowed_responses_per_pending_response",
               l.max_borrowed_responses_per_pending_response, path);
    read_limit(*defaults, "max_loaned_responses_per_request", l.max_loaned_responses_per_request,
               path);
    read_limit(*defaults, "enable_fire_and_forget_requests", l.enable_fire_and_forget_requests,
               path);
    read_limit(*defaults, "enable_safe_overflow_for_requests", l.enable_safe_overflow_for_requests,
               path);
    read_limit(*defaults, "enable_safe_overflow_for_responses",
               l.enable_safe_overflow_for_responses, path);
  }
  return config;
}

Config Config::from_environment() {
  Config config;
  if (const char* file = std::getenv("FLOE_CONFIG"); file != nullptr && *file != '\0') {
    config = from_file(file);
  } else if (std::error_code ec; std::filesystem::exists("/etc/floe/floe.toml", ec)) {
    config = from_file("/etc/floe/floe.toml");
  }
  if (const char* domain = std::getenv("FLOE_DOMAIN"); domain != nullptr && *domain != '\0') {
    if (!detail::is_valid_domain(domain)) {
      throw Error(Errc::invalid_config,
                  std::string("FLOE_DOMAIN '") + domain + "' must be 1 to 64 of [A-Za-z0-9_-]");
    }
    config.domain = domain;
  }
  return config;
}

}  // namespace floe
