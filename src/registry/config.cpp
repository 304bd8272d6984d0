#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "floe/config.hpp"
#include "floe/error.hpp"
#include "log.hpp"
#include "platform/file_descriptor.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"

namespace floe {
namespace {

/// A config file larger than this is not a config file: refusing it bounds what a mistaken
/// FLOE_CONFIG (a log file, say) can make us read.
constexpr std::size_t kMaxConfigBytes = 1 << 20;

/// Where a diagnostic points: "file:line:column", or just the file when toml++ knows no place.
std::string at(const std::filesystem::path& path, const toml::source_region& where) {
  std::string text = path.string();
  if (where.begin.line != 0) {
    text += ':' + std::to_string(where.begin.line) + ':' + std::to_string(where.begin.column);
  }
  return text;
}

[[noreturn]] void fail(const std::filesystem::path& path, const toml::source_region& where,
                       const std::string& what) {
  throw Error(Errc::invalid_config, "floe: " + at(path, where) + ": " + what);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The known key a typo most likely meant, if one is close enough to be worth suggesting.
std::string_view closest(std::string_view key, std::span<const std::string_view> known) {
  std::string_view best;
  std::size_t best_distance = SIZE_MAX;
  for (std::string_view candidate : known) {
    const std::size_t d = edit_distance(key, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  // A third of the key's length: catches a dropped or swapped letter or two in long names
  // without proposing 'domain' for 'colour'.
  const std::size_t tolerance = std::max<std::size_t>(1, std::min(key.size(), best.size()) / 3);
  return best_distance <= tolerance ? best : std::string_view{};
}

/// Rejects any key of `table` not in `known`: a misspelt limit silently ignored would leave the
/// default in force with nobody the wiser.
void reject_unknown_keys(const toml::table& table, std::string_view prefix,
                         std::span<const std::string_view> known,
                         const std::filesystem::path& path) {
  for (auto&& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    const std::string full = std::string(prefix) + std::string(key.str());
    std::string what =
        std::string(node.is_table() ? "unknown section '" : "unknown key '") + full + "'";
    if (const std::string_view guess = closest(key.str(), known); !guess.empty()) {
      what += " — did you mean '" + std::string(guess) + "'?";
    } else {
      what += " (known here: ";
      for (std::size_t i = 0; i < known.size(); ++i) {
        what += (i == 0 ? "" : ", ") + std::string(known[i]);
      }
      what += ")";
    }
    fail(path, key.source().begin.line != 0 ? key.source() : node.source(), what);
  }
}

/// The sub-table `key` of `parent`, nullptr when absent; anything but a table is an error.
const toml::table* section(const toml::table& parent, std::string_view key, std::string_view full,
                           const std::filesystem::path& path) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) return nullptr;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(path, node->source(), "'" + std::string(full) + "' must be a table");
  return table;
}

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
                 const std::filesystem::path& path) {
  for (const detail::LimitInfo& limit : detail::kLimits) {
    const toml::node* node = table.get(limit.name);
    if (node == nullptr) continue;
    const std::string full = "defaults.request_response." + std::string(limit.name);
    if (limit.is_flag) {
      const auto value = node->value_exact<bool>();
      if (!value) fail(path, node->source(), "'" + full + "' must be true or false");
      detail::set_limit_value(limits, limit.id, *value);
      continue;
    }
    auto value = node->value_exact<std::int64_t>();
    if (value) value = detail::sane_value(limit, *value);
    if (!value) {
      fail(path, node->source(),
           "'" + full + "' must be an integer from " + std::to_string(limit.min) + " to " +
               std::to_string(limit.max));
    }
    if (!limit.contains(*value)) {
      fail(path, node->source(), detail::out_of_range_message(limit, *value));
    }
    detail::set_limit_value(limits, limit.id, static_cast<std::uint32_t>(*value));
  }
}

/// " (named by FLOE_CONFIG)" and the like: which setting led to the file.
std::string origin_note(const char* origin) {
  return origin == nullptr ? std::string() : std::string(" (named by ") + origin + ")";
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void fail_file(const std::filesystem::path& path, const char* origin,
                            const std::string& what) {
  throw Error(Errc::invalid_config,
              "floe: config file '" + path.string() + "'" + origin_note(origin) + " " + what);
}

/// The whole content of a regular file, without ever blocking: a FIFO named by mistake would
/// otherwise hang Node::create until some writer showed up.
std::string read_regular_file(const std::filesystem::path& path, const char* origin) {
  // stat first, so a device is never opened (opening one can have side effects); the fstat
  // after opening catches a file swapped for something else in between.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) fail_file(path, origin, "does not exist");
    fail_file(path, origin, std::string("cannot be read: ") + std::strerror(error));
  }
  if (!S_ISREG(st.st_mode)) {
    fail_file(path, origin, std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  }
  detail::FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) fail_file(path, origin, std::string("cannot be opened: ") + std::strerror(errno));
  if (::fstat(fd.get(), &st) != 0) {
    fail_file(path, origin, std::string("cannot be read: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    fail_file(path, origin, std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  }
  std::string content;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_file(path, origin, std::string("cannot be read: ") + std::strerror(errno));
    }
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxConfigBytes) {
      fail_file(path, origin,
                "is larger than " + std::to_string(kMaxConfigBytes >> 10) + " KiB: not a config");
    }
  }
  return content;
}

Config load(const std::filesystem::path& path, const char* origin) {
  const std::string content = read_regular_file(path, origin);
  toml::table root;
  try {
    root = toml::parse(content, path.string());
  } catch (const toml::parse_error& e) {
    fail(path, e.source(), std::string(e.description()));
  }
  reject_unknown_keys(root, "", kRootKeys, path);

  Config config;
  if (const toml::table* global = section(root, "global", "global", path)) {
    reject_unknown_keys(*global, "global.", kGlobalKeys, path);
    if (const toml::node* domain = global->get("domain")) {
      auto value = domain->value_exact<std::string>();
      if (!value || !detail::is_valid_domain(*value)) {
        fail(path, domain->source(), "'global.domain' must be 1 to 64 of [A-Za-z0-9_-]");
      }
      config.domain = *value;
    }
    if (const toml::node* group = global->get("group_access")) {
      auto value = group->value_exact<bool>();
      if (!value) fail(path, group->source(), "'global.group_access' must be true or false");
      config.group_access = *value;
    }
  }
  if (const toml::table* defaults = section(root, "defaults", "defaults", path)) {
    reject_unknown_keys(*defaults, "defaults.", kDefaultsKeys, path);
    if (const toml::table* rr =
            section(*defaults, "request_response", "defaults.request_response", path)) {
      reject_unknown_keys(*rr, "defaults.request_response.", kLimitKeys, path);
      read_limits(*rr, config.request_response, path);
    }
  }
  return config;
}

/// load(), and what it did in the log: which file was read, or why it could not be used.
Config load_logged(const std::filesystem::path& path, const char* origin) {
  try {
    Config config = load(path, origin);
    detail::log(LogLevel::info, [&] {
      return "config file '" + path.string() + "'" + origin_note(origin) + " loaded: domain " +
             config.domain + (config.group_access ? ", group access" : "");
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
