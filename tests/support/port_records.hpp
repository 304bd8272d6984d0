#pragma once
// A service's shared memory as any process of it can map it: for tests that look at a port's
// record (is its loop asleep?) or write it as a faulty or hostile peer would.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>

#include <floe/config.hpp>

#include "registry/names.hpp"
#include "segment/view.hpp"

namespace floe::test {

/// The segment of service `name` of `config`'s domain, mapped read-write.
class MappedService {
 public:
  MappedService(const Config& config, const std::string& name) {
    const std::string object = detail::service_object_name(config.domain, name);
    const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + object);
    const off_t size = ::lseek(fd, 0, SEEK_END);
    size_ = static_cast<std::size_t>(size);
    base_ =
        size > 0 ? ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (base_ == MAP_FAILED) throw std::runtime_error("mmap " + object);
  }
  MappedService(const MappedService&) = delete;
  MappedService& operator=(const MappedService&) = delete;
  ~MappedService() { ::munmap(base_, size_); }

  /// The record of the service's (last) active server; throws if there is none.
  detail::PortRecord& active_server() const {
    auto* base = static_cast<std::byte*>(base_);
    const detail::ServiceHeader& header = *reinterpret_cast<detail::ServiceHeader*>(base);
    const auto layout =
        detail::SegmentLayout::compute(header.limits, header.request, header.response,
                                       header.request_user_header, header.response_user_header);
    if (!layout) throw std::runtime_error("no layout");
    const detail::SegmentView segment(base, *layout);
    detail::PortRecord* server = nullptr;
    for (std::uint32_t s = 0; s < header.limits.max_servers; ++s) {
      if (segment.server(s)->state == static_cast<std::uint32_t>(detail::SlotState::active))
        server = segment.server(s);
    }
    if (server == nullptr) throw std::runtime_error("no active server");
    return *server;
  }

 private:
  void* base_ = MAP_FAILED;
  std::size_t size_ = 0;
};

/// A port's `waiting` flag: set while the loop that waits on it sleeps (or is about to).
inline std::atomic_ref<std::uint32_t> waiting_flag(detail::PortRecord& port) {
  return std::atomic_ref<std::uint32_t>(port.waiting);
}

/// Whether the (main thread of) process `pid` sleeps in the kernel now (state S in
/// /proc/<pid>/stat).
inline bool sleeping_in_kernel(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto name_end = line.rfind(')');
  return name_end != std::string::npos && name_end + 2 < line.size() && line[name_end + 2] == 'S';
}

}  // namespace floe::test
