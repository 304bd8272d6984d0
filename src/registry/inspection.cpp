#include "registry/inspection.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "platform/liveness_mark.hpp"
#include "platform/shared_memory.hpp"
#include "registry/service_segment.hpp"
#include "shm/atomics.hpp"

namespace floe::detail {
namespace {

constexpr char kPrefix[] = "floe.";

std::string domain_of(const std::string& file) {
  const std::size_t start = sizeof kPrefix - 1;
  const std::size_t dot = file.find('.', start);
  return dot == std::string::npos ? std::string() : file.substr(start, dot - start);
}

bool active(const std::uint32_t& state) {
  return load(const_cast<std::uint32_t&>(state)) == static_cast<std::uint32_t>(SlotState::active);
}

}  // namespace

bool SegmentReport::stale() const noexcept {
  return judged_by_marks && !held;
}

std::vector<std::string> list_objects(const std::string& domain) {
  std::vector<std::string> objects;
  const std::string prefix = domain.empty() ? kPrefix : kPrefix + domain + ".";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) == 0) objects.push_back("/" + file);
  }
  std::sort(objects.begin(), objects.end());
  return objects;
}

SegmentReport inspect_object(const std::string& object) {
  SegmentReport report;
  report.object = object;
  const std::string file = object.substr(1);
  report.domain = domain_of(file);
  try {
    auto opened = SharedMemoryObject::open_existing(object);
    if (!opened) {
      report.problem = "gone";
      return report;
    }
    report.held = is_marked_alive(opened->fd(), 0, kMaxNodes);
    const std::size_t size = opened->size();
    if (size < sizeof(ServiceHeader)) {
      report.judged_by_marks = true;
      report.problem = "smaller than a service header (shrunk?)";
      return report;
    }
    Mapping mapping(opened->fd(), size);
    report.readable = true;
    ServiceHeader header;
    std::memcpy(&header, mapping.data(), sizeof header);
    const auto layout = layout_of(header);
    if (header.magic != kSegmentMagic) {
      report.problem = "not a floe service";
      return report;
    }
    if (header.layout_version != kLayoutVersion) {
      report.problem = "layout version " + std::to_string(header.layout_version) + ", this is " +
                       std::to_string(kLayoutVersion);
      return report;
    }
    report.judged_by_marks = true;
    if (!layout || layout->total_size() != size || header.segment_size != size ||
        header.name_length > 255) {
      report.problem = "damaged: its limits and size disagree";
      return report;
    }
    report.valid = true;
    report.service.assign(header.name, header.name_length);
    report.request = header.request;
    report.response = header.response;
    report.request_user_header = header.request_user_header;
    report.response_user_header = header.response_user_header;
    report.limits = header.limits;
    std::byte* base = mapping.data();
    std::vector<bool> node_alive(header.limits.max_nodes, false);
    std::vector<std::uint64_t> node_pid(header.limits.max_nodes, 0);
    for (std::uint32_t n = 0; n < header.limits.max_nodes; ++n) {
      NodeRecord* record = layout->node(base, n);
      if (!active(record->state)) continue;
      const ProcessIdentity owner{load(record->pid), load(record->start_time)};
      node_alive[n] = is_marked_alive(opened->fd(), n);
      node_pid[n] = owner.pid;
      report.nodes.push_back(NodeReport{n, owner.pid, node_alive[n]});
    }
    auto add_ports = [&](bool server, std::uint32_t count) {
      for (std::uint32_t slot = 0; slot < count; ++slot) {
        PortRecord* port = server ? layout->server(base, slot) : layout->client(base, slot);
        if (!active(port->state)) continue;
        const std::uint32_t node = load(port->node);
        const bool known = node < header.limits.max_nodes;
        report.ports.push_back(PortReport{server, slot, load(port->generation),
                                          known ? node_pid[node] : 0, known && node_alive[node]});
      }
    };
    add_ports(false, header.limits.max_clients);
    add_ports(true, header.limits.max_servers);
    report.usage = usage_of(base, *layout);
  } catch (const std::exception& e) {
    report.problem = e.what();
  }
  return report;
}

bool remove_if_unused(const std::string& object) {
  auto opened = SharedMemoryObject::open_existing(object);
  if (!opened) return false;
  ExclusiveLock lock(opened->fd());
  const SegmentReport report = inspect_object(object);
  if (!report.stale()) return false;
  if (opened->size() >= sizeof(ServiceHeader)) {
    // As an opener that finds no live node does: a process waiting for the lock sees "removed".
    Mapping header(opened->fd(), sizeof(ServiceHeader));
    store(reinterpret_cast<ServiceHeader*>(header.data())->state,
          static_cast<std::uint32_t>(SegmentState::removed));
  }
  SharedMemoryObject::unlink(object);
  return true;
}

}  // namespace floe::detail
