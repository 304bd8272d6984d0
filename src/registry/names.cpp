#include "registry/names.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

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
