#pragma once
// What a test's domain leaves in /dev/shm: tests running at once have domains of their own, so
// every object found here is the test's.

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <floe/config.hpp>

#include "registry/names.hpp"

namespace floe::test {

/// Every object of `config`'s domain in /dev/shm, temporaries and data segments included.
inline std::vector<std::string> objects_of_domain(const Config& config) {
  const std::string prefix = detail::domain_object_prefix(config.domain);
  const std::string data_prefix = detail::domain_data_segment_prefix(config.domain).substr(1);
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) || name.starts_with(data_prefix)) found.push_back(std::move(name));
  }
  return found;
}

/// The data segment objects of `config`'s domain (file names), sorted.
inline std::vector<std::string> data_segments(const Config& config) {
  std::vector<std::string> found;
  for (std::string& name : objects_of_domain(config)) {
    if (name.starts_with("floe_d.")) found.push_back(std::move(name));
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace floe::test
