#pragma once
// Objects a hostile process of the same user could put at a service's name.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "registry/segment_header.hpp"
#include "segment/layout.hpp"
#include "segment/view.hpp"

namespace floe::test {

/// A service's segment mapped read-write, as a same-user process could write over it, with the
/// view its header's layout gives; unmapped when it goes. `view` is empty when the object
/// cannot be mapped or its header gives no layout.
class WritableSegment {
 public:
  explicit WritableSegment(const std::string& object) {
    const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR);
    if (fd < 0) return;
    size_ = static_cast<std::size_t>(::lseek(fd, 0, SEEK_END));
    void* mapped = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (mapped == MAP_FAILED) return;
    base_ = static_cast<std::byte*>(mapped);
    const auto* header = reinterpret_cast<const detail::ServiceHeader*>(base_);
    const auto layout = detail::layout_of(*header);
    if (layout) view.emplace(base_, *layout);
  }
  WritableSegment(const WritableSegment&) = delete;
  WritableSegment& operator=(const WritableSegment&) = delete;
  ~WritableSegment() {
    if (base_ != nullptr) ::munmap(base_, size_);
  }

  std::optional<detail::SegmentView> view;

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

/// Forges, as a same-user attacker could, a header describing a valid segment of 16,384
/// response chunks of 4 KiB (about 68 MiB) in an object sized with ftruncate, not allocated:
/// only the header's page is real. Reading every chunk's state word (what the inspection's
/// usage does) would make tmpfs allocate a page per chunk. Returns the object's size, 0 on
/// failure.
inline std::uint64_t forge_sparse_segment(const std::string& object, const std::string& service) {
  const detail::StoredLimits limits{.max_clients = 16,
                                    .max_servers = 1,
                                    .max_nodes = 4,
                                    .max_active_requests_per_client = 16,
                                    .max_loaned_requests = 1,
                                    .max_response_buffer_size = 62,
                                    .max_borrowed_responses_per_pending_response = 1,
                                    .max_loaned_responses_per_request = 1,
                                    .enable_fire_and_forget_requests = 0,
                                    .enable_safe_overflow_for_requests = 1,
                                    .enable_safe_overflow_for_responses = 1,
                                    .reserved = {}};
  detail::StoredType request{}, response{}, none{};
  std::strcpy(request.name, "unsigned long");
  request.size = 8;
  request.alignment = 8;
  std::strcpy(response.name, "page");
  response.size = 4096;
  response.alignment = 8;
  none.alignment = 1;
  const auto layout = detail::SegmentLayout::compute(limits, request, response, none, none);
  if (!layout) return 0;
  detail::ServiceHeader header{};
  header.magic = detail::kSegmentMagic;
  header.layout_version = detail::kLayoutVersion;
  header.state = static_cast<std::uint32_t>(detail::SegmentState::ready);
  header.segment_size = layout->total_size();
  header.name_length = static_cast<std::uint32_t>(service.size());
  std::memcpy(header.name, service.data(), service.size());
  header.request = request;
  header.response = response;
  header.request_user_header = none;
  header.response_user_header = none;
  header.limits = limits;
  header.request_payload_alignment = request.alignment;
  header.response_payload_alignment = response.alignment;
  const int fd = ::shm_open(object.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  const bool ok = ::ftruncate(fd, static_cast<off_t>(layout->total_size())) == 0 &&
                  ::pwrite(fd, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header);
  ::close(fd);
  return ok ? layout->total_size() : 0;
}

/// Bytes tmpfs allocated for the object (st_blocks), -1 if it is gone.
inline long long allocated_bytes(const std::string& object) {
  struct stat status {};
  if (::stat(("/dev/shm" + object).c_str(), &status) != 0) return -1;
  return static_cast<long long>(status.st_blocks) * 512;
}

}  // namespace floe::test
