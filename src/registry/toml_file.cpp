#include "registry/toml_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "floe/error.hpp"
#include "platform/file_descriptor.hpp"

namespace floe::detail {

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

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void fail_file(const std::string& program, const std::filesystem::path& path,
                            const char* origin, const std::string& what) {
  throw Error(Errc::invalid_config,
              program + ": config file '" + path.string() + "'" + origin_note(origin) + " " + what);
}

/// The whole content of a regular file, without ever blocking: a FIFO named by mistake would
/// otherwise hang Node::create until some writer showed up.
std::string read_regular_file(const std::string& program, const std::filesystem::path& path,
                              const char* origin) {
  // stat first, so a device is never opened (opening one can have side effects); the fstat
  // after opening catches a file swapped for something else in between.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) fail_file(program, path, origin, "does not exist");
    fail_file(program, path, origin, std::string("cannot be read: ") + std::strerror(error));
  }
  if (!S_ISREG(st.st_mode)) {
    fail_file(program, path, origin,
              std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  }
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd)
    fail_file(program, path, origin, std::string("cannot be opened: ") + std::strerror(errno));
  if (::fstat(fd.get(), &st) != 0) {
    fail_file(program, path, origin, std::string("cannot be read: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    fail_file(program, path, origin,
              std::string("is ") + kind_of(st.st_mode) + ", not a regular file");
  }
  std::string content;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_file(program, path, origin, std::string("cannot be read: ") + std::strerror(errno));
    }
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxConfigBytes) {
      fail_file(program, path, origin,
                "is larger than " + std::to_string(kMaxConfigBytes >> 10) + " KiB: not a config");
    }
  }
  return content;
}

}  // namespace

std::string origin_note(const char* origin) {
  return origin == nullptr ? std::string() : std::string(" (named by ") + origin + ")";
}

TomlFile::TomlFile(std::filesystem::path path, std::string program, const char* origin)
    : path_(std::move(path)), program_(std::move(program)) {
  const std::string content = read_regular_file(program_, path_, origin);
  try {
    root_ = toml::parse(content, path_.string());
  } catch (const toml::parse_error& e) {
    fail(e.source(), std::string(e.description()));
  }
}

void TomlFile::fail(const toml::source_region& where, const std::string& what) const {
  throw Error(Errc::invalid_config, program_ + ": " + at(path_, where) + ": " + what);
}

void TomlFile::reject_unknown_keys(const toml::table& table, std::string_view prefix,
                                   std::span<const std::string_view> known) const {
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
    fail(key.source().begin.line != 0 ? key.source() : node.source(), what);
  }
}

const toml::table* TomlFile::section(const toml::table& parent, std::string_view key,
                                     std::string_view full) const {
  const toml::node* node = parent.get(key);
  if (node == nullptr) return nullptr;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(node->source(), "'" + std::string(full) + "' must be a table");
  return table;
}

}  // namespace floe::detail
