#include "registry/names.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "floe/error.hpp"

namespace floe::detail {

bool is_valid_domain(std::string_view domain) noexcept {
  if (domain.empty() || domain.size() > 64) return false;
  for (char c : domain) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_service_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxServiceNameLength) return false;
  for (char c : name) {
    if (c <= ' ' || c > '~') return false;
  }
  // Every part, the text between two '/' (or an end), is checked: the first, the last and
  // those between.
  for (std::size_t begin = 0;;) {
    const std::size_t end = std::min(name.find('/', begin), name.size());
    const std::string_view part = name.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == name.size()) return true;
    begin = end + 1;
  }
}

std::string domain_object_prefix(std::string_view domain) {
  // Appended rather than `"floe." + std::string(domain)`: g++ 12 at -O3 warns wrongly about
  // overlapping memcpy in that operator+ (GCC bug 105329), and warnings are errors here.
  std::string prefix = "floe.";
  prefix.append(domain).append(".");
  return prefix;
}

std::string service_object_name(std::string_view domain, std::string_view service_name) {
  // FNV-1a, 64 bit: stable across builds and processes, which std::hash is not.
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : service_name) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  std::string name = "/";
  name.append(domain_object_prefix(domain)).append(hex);
  return name;
}

std::string_view domain_of_object(std::string_view object_name) noexcept {
  constexpr std::string_view kPrefix = "/floe.";
  if (!object_name.starts_with(kPrefix)) return {};
  object_name.remove_prefix(kPrefix.size());
  const std::size_t end = object_name.rfind('.');
  return end == std::string_view::npos ? std::string_view{} : object_name.substr(0, end);
}

namespace {

constexpr std::string_view kServiceObjectPrefix = "/floe.";
constexpr std::string_view kDataSegmentPrefix = "/floe_d.";

/// "/floe_d.<domain>.<hash>." from "/floe.<domain>.<hash>".
std::string data_segment_stem(std::string_view service_object) {
  std::string stem(kDataSegmentPrefix);
  if (service_object.starts_with(kServiceObjectPrefix)) {
    service_object.remove_prefix(kServiceObjectPrefix.size());
  }
  stem.append(service_object).append(".");
  return stem;
}

/// Reads a decimal std::uint32_t at the start of `text` up to `end`, consuming both.
std::optional<std::uint32_t> take_number(std::string_view& text, char end) {
  std::uint32_t value = 0;
  const auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::size_t used = static_cast<std::size_t>(rest - text.data());
  if (error != std::errc() || used == 0 || (used > 1 && text[0] == '0')) return std::nullopt;
  text.remove_prefix(used);
  if (end != '\0') {
    if (text.empty() || text[0] != end) return std::nullopt;
    text.remove_prefix(1);
  }
  return value;
}

}  // namespace

std::string data_segment_prefix(std::string_view service_object) {
  return data_segment_stem(service_object);
}

std::string data_segment_prefix(std::string_view service_object, DataSegmentWriter writer,
                                std::uint32_t slot, std::uint32_t generation) {
  std::string prefix = data_segment_stem(service_object);
  prefix.push_back(static_cast<char>(writer));
  prefix.append(std::to_string(slot)).append("-").append(std::to_string(generation)).append("-");
  return prefix;
}

std::string data_segment_name(std::string_view service_object, DataSegmentWriter writer,
                              std::uint32_t slot, std::uint32_t generation, std::uint32_t number) {
  return data_segment_prefix(service_object, writer, slot, generation)
      .append(std::to_string(number));
}

std::string domain_data_segment_prefix(std::string_view domain) {
  std::string prefix(kDataSegmentPrefix);
  if (!domain.empty()) prefix.append(domain).append(".");
  return prefix;
}

std::optional<DataSegmentName> parse_data_segment_name(std::string_view object_name) {
  if (!object_name.starts_with(kDataSegmentPrefix)) return std::nullopt;
  std::string_view rest = object_name.substr(kDataSegmentPrefix.size());
  // <domain>.<16 hex digits>.<c|s><slot>-<generation>-<n>; a domain holds no '.'.
  const std::size_t domain_end = rest.find('.');
  if (domain_end == std::string_view::npos || !is_valid_domain(rest.substr(0, domain_end))) {
    return std::nullopt;
  }
  constexpr std::size_t kHashDigits = 16;
  const std::string_view hash = rest.substr(domain_end + 1, kHashDigits);
  const bool hex = hash.size() == kHashDigits && std::all_of(hash.begin(), hash.end(), [](char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  const std::size_t writer_at = domain_end + 1 + kHashDigits + 1;
  if (!hex || rest.size() <= writer_at || rest[writer_at - 1] != '.') return std::nullopt;
  DataSegmentName name;
  name.service_object = std::string(kServiceObjectPrefix).append(rest.substr(0, writer_at - 1));
  if (rest[writer_at] != 'c' && rest[writer_at] != 's') return std::nullopt;
  name.writer = static_cast<DataSegmentWriter>(rest[writer_at]);
  rest.remove_prefix(writer_at + 1);
  const auto slot = take_number(rest, '-');
  const auto generation = slot ? take_number(rest, '-') : std::nullopt;
  const auto number = generation ? take_number(rest, '\0') : std::nullopt;
  if (!number || !rest.empty()) return std::nullopt;
  name.slot = *slot;
  name.generation = *generation;
  name.number = *number;
  return name;
}

std::vector<std::string> objects_with_prefix(std::string_view prefix) {
  std::vector<std::string> objects;
  std::error_code error;
  // Advanced with an error code: an entry vanishing under the walk is not an exception.
  for (std::filesystem::directory_iterator entry("/dev/shm", error), end; !error && entry != end;
       entry.increment(error)) {
    // Appended, not "/" + name: GCC 12 at -O3 misreads that operator+ (a false -Wrestrict).
    std::string object = "/";
    object += entry->path().filename().native();
    if (object.starts_with(prefix)) objects.push_back(std::move(object));
  }
  std::sort(objects.begin(), objects.end());
  return objects;
}

std::size_t unlink_objects_with_prefix(std::string_view prefix) {
  std::size_t unlinked = 0;
  for (const std::string& object : objects_with_prefix(prefix)) {
    unlinked += ::shm_unlink(object.c_str()) == 0;
  }
  return unlinked;
}

void check_domain(const std::string& domain) {
  if (!is_valid_domain(domain)) {
    throw Error(Errc::invalid_config,
                "floe: invalid domain '" + domain + "': want 1 to 64 of A-Z, a-z, 0-9, _ and -");
  }
}

void check_service_name(const std::string& name) {
  if (!is_valid_service_name(name)) {
    throw Error(Errc::invalid_name,
                "floe: invalid service name '" + name + "': " + kServiceNameRule);
  }
}

}  // namespace floe::detail
