#include "registry/inspection.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "log.hpp"
#include "platform/liveness_mark.hpp"
#include "platform/shared_memory.hpp"
#include "registry/data_segments.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"
#include "registry/segment_header.hpp"
#include "registry/service_segment.hpp"
#include "segment/channel_protocol.hpp"
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

namespace {

/// The data segments of the port's life, from their names and sizes in /dev/shm, and the newest
/// one's max slice length from its header, if that validates against the service's layout.
void add_data_segments_of_port(PortReport& port, const std::string& service_object,
                               const SegmentLayout& layout, bool group_access) {
  const auto writer = port.server ? DataSegmentWriter::server : DataSegmentWriter::client;
  for (const std::string& object : objects_with_prefix(
           data_segment_prefix(service_object, writer, port.slot, port.generation))) {
    const auto name = parse_data_segment_name(object);
    const auto status = SharedMemoryObject::status_of_name(object);
    if (!name || !status) continue;
    ++port.data_segments;
    port.data_segment_bytes += static_cast<std::uint64_t>(status->st_size);
    port.newest_data_segment = std::max(port.newest_data_segment, name->number);
  }
  if (port.data_segments == 0) return;
  const DataSegmentOpening newest =
      open_data_segment(data_segment_name(service_object, writer, port.slot, port.generation,
                                          port.newest_data_segment),
                        layout, port.server ? DataSegmentKind::response : DataSegmentKind::request,
                        port.slot, port.generation, port.newest_data_segment, group_access);
  if (newest.segment) port.newest_max_slice_len = newest.segment->geometry().max_slice_len;
}

/// Reads the segment of an object this process may join. Every allocation and every page read
/// is bounded by the mapping: the layout is used only once its total size equals the object's
/// size, so the records and queues counted (max_nodes, max_clients, max_servers, channels) fit
/// in it, and a node's name is read within its record.
void read_report(SegmentReport& report, const SharedMemoryObject& opened, const struct stat& status,
                 bool group_access) {
  // Whether anyone uses it is the kernel's word (liveness marks), whatever the bytes say.
  report.held = is_segment_held(opened);
  const SegmentRead read = read_segment(opened, status);
  report.readable = read.mapping.data() != nullptr;
  report.judged_by_marks = read.judgement.ours();
  if (!read.judgement.sound()) {
    report.problem = read.judgement.problem;
    return;
  }
  const ServiceHeader& header = read.header;
  const SegmentLayout& layout = *read.judgement.layout;
  report.valid = true;
  report.service.assign(header.name, header.name_length);
  report.request = header.request;
  report.response = header.response;
  report.request_user_header = header.request_user_header;
  report.response_user_header = header.response_user_header;
  report.limits = header.limits;
  report.request_payload_alignment = header.request_payload_alignment;
  report.response_payload_alignment = header.response_payload_alignment;
  report.request_max_slice_len = header.request_max_slice_len;
  report.response_max_slice_len = header.response_max_slice_len;
  report.attributes = attributes_of(header.attributes);
  const SegmentView segment(read.mapping.data(), layout);
  const StoredLimits& limits = header.limits;
  std::vector<std::optional<std::size_t>> node_report(limits.max_nodes);
  for (std::uint32_t n = 0; n < limits.max_nodes; ++n) {
    NodeRecord* record = segment.node(n);
    if (!active(record->state)) continue;
    node_report[n] = report.nodes.size();
    report.nodes.push_back(
        NodeReport{n, node_name_of(*record), load(record->pid), is_marked_alive(opened.fd(), n)});
  }
  std::vector<bool> server_active(limits.max_servers);
  for (std::uint32_t s = 0; s < limits.max_servers; ++s) {
    server_active[s] = active(segment.server(s)->state);
  }
  auto add_ports = [&](bool server, std::uint32_t count) {
    for (std::uint32_t slot = 0; slot < count; ++slot) {
      PortRecord* port = server ? segment.server(slot) : segment.client(slot);
      if (!active(port->state)) continue;
      const std::uint32_t node = load(port->node);
      PortReport entry;
      entry.server = server;
      entry.slot = slot;
      entry.generation = load(port->generation);
      entry.node = limits.max_nodes;
      if (node < limits.max_nodes && node_report[node]) {
        NodeReport& owner = report.nodes[*node_report[node]];
        entry.node = node;
        entry.node_name = owner.name;
        entry.pid = owner.pid;
        entry.alive = owner.alive;
        ++(server ? owner.servers : owner.clients);
      }
      if (!server) {
        for (std::uint32_t s = 0; s < limits.max_servers; ++s) {
          const IndexQueue queue = segment.request_queue(slot, s);
          entry.queued_to_server.push_back(
              QueueFill{server_active[s] ? queue.size() : 0, queue.capacity()});
        }
        for (std::uint32_t k = 0; k < limits.max_active_requests_per_client; ++k) {
          entry.active_requests += load(segment.client_channel(slot, k)->pending_alive) != 0;
        }
      }
      add_data_segments_of_port(entry, report.object, layout, group_access);
      report.ports.push_back(std::move(entry));
    }
  };
  add_ports(false, limits.max_clients);
  add_ports(true, limits.max_servers);
  for (std::uint32_t s = 0; s < limits.max_servers; ++s) {
    if (!server_active[s]) continue;
    for (std::uint32_t c = 0; c < limits.max_clients; ++c) {
      for (std::uint32_t k = 0; k < limits.max_active_requests_per_client; ++k) {
        const ResponseChannel channel = segment.response_channel(s, c, k);
        const std::uint64_t open = load(channel.head()->open_request_id);
        // A request a former server of this slot left open at its death is no one's now.
        if (open == 0 || (open & kServerGoneBit) != 0) continue;
        // The server's flag stays up after a refused send until it next delivers: only a queue
        // still full says it is held back now.
        const IndexQueue queue = channel.queue();
        const QueueFill fill{queue.size(), queue.capacity()};
        report.response_channels.push_back(ResponseChannelReport{
            s, c, k, fill, queue.producer_waiting() && fill.used == fill.capacity});
      }
    }
  }
  report.usage = usage_of(segment);
  if (report.request_max_slice_len != 0 || report.response_max_slice_len != 0) {
    add_data_segment_usage(report.usage, report.object);
  }
}

SegmentReport report_of(const std::string& object) {
  SegmentReport report;
  report.object = object;
  const std::string file = object.substr(1);
  report.domain = domain_of(file);
  return report;
}

}  // namespace

SegmentReport inspect_object(const std::string& object, bool group_access) {
  SegmentReport report = report_of(object);
  try {
    if (const auto named = SharedMemoryObject::status_of_name(object)) {
      report.exists = true;
      report.owner = describe_owner(*named);
    }
    auto opened = SharedMemoryObject::open_to_inspect(object);
    if (!opened) {
      report.exists = false;
      report.problem = "gone";
      return report;
    }
    const struct stat status = opened->status();
    report.exists = true;
    report.owner = describe_owner(status);
    if (const auto refusal = refusal_to_join(status, group_access)) {
      // Not read: floe does not trust what it would not join.
      report.refused = true;
      report.problem = *refusal + "; floe refuses to join it";
      return report;
    }
    read_report(report, *opened, status, group_access);
  } catch (const Error& e) {
    report.problem = cause_of(e);
  } catch (const std::exception& e) {
    report.problem = e.what();
  }
  return report;
}

namespace {

/// What an unlink did (`error`: its errno when it failed), as a Removal; a removal is logged
/// with the text `removed()` returns.
template <typename Message>
Removal removal_of(SharedMemoryObject::Unlinked unlinked, int error, Message removed) {
  switch (unlinked) {
    case SharedMemoryObject::Unlinked::yes:
      log(LogLevel::info, removed);
      return Removal{Removal::removed, {}};
    case SharedMemoryObject::Unlinked::not_named:
      return Removal{Removal::kept, "its name was given to another object meanwhile"};
    case SharedMemoryObject::Unlinked::failed:
      break;
  }
  return Removal{Removal::failed, std::string("cannot remove it: ") + std::strerror(error) +
                                      (error == EPERM || error == EACCES
                                           ? " (in sticky /dev/shm only its owner or root may)"
                                           : "")};
}

}  // namespace

Removal remove_if_unused(const std::string& object, bool group_access, std::string_view remover) {
  int error = 0;
  try {
    auto opened = SharedMemoryObject::open_existing(object, group_access);
    if (!opened) return Removal{Removal::kept, "gone"};
    ExclusiveLock lock(opened->fd());
    // Judged from the object locked, not from whatever the name holds by now.
    SegmentReport report = report_of(object);
    read_report(report, *opened, opened->status(), group_access);
    if (!report.stale()) return Removal{Removal::kept, "a process uses it"};
    // As ServiceSegment does, and with the same call: unlinked only if the name is still this
    // object, then marked removed, under the lock.
    const Mapping header = opened->size() >= sizeof(ServiceHeader)
                               ? Mapping(opened->fd(), sizeof(ServiceHeader))
                               : Mapping();
    const auto unlinked = remove_object_locked(*opened, header, &error);
    return removal_of(unlinked, error, [&] {
      const std::string service = report.service.empty() ? "unnamed" : report.service;
      return service_in_domain(service, domain_of_object(object)) + " removed by " +
             std::string(remover) + ": no live process held " + kShmDirectory + object +
             (report.valid ? std::string() : " (damaged: " + report.problem + ")");
    });
  } catch (const Error& e) {
    return Removal{Removal::failed, cause_of(e)};
  }
}

namespace {

ServiceState state_of(const SegmentReport& report) {
  if (report.refused || !report.judged_by_marks) return ServiceState::inaccessible;
  if (!report.valid) return ServiceState::damaged;
  return report.stale() ? ServiceState::stale : ServiceState::live;
}

}  // namespace

ServiceInfo service_info_of(const SegmentReport& report) {
  ServiceInfo info;
  info.name = report.service;
  info.object = report.object;
  info.state = state_of(report);
  info.problem = report.problem;
  info.owner = report.owner;
  if (!report.valid) return info;
  info.request_type = recorded_type_name(report.request, report.request_max_slice_len != 0);
  info.response_type = recorded_type_name(report.response, report.response_max_slice_len != 0);
  info.request_user_header_type = recorded_type_name(report.request_user_header, false);
  info.response_user_header_type = recorded_type_name(report.response_user_header, false);
  info.request_max_slice_len = report.request_max_slice_len;
  info.response_max_slice_len = report.response_max_slice_len;
  info.limits = from_stored(report.limits);
  for (const NodeReport& node : report.nodes) {
    ++(node.alive ? info.live_nodes : info.dead_nodes);
    info.nodes.push_back(NodeInfo{node.name, node.pid, node.alive, node.clients, node.servers});
  }
  info.usage = report.usage;
  return info;
}

std::vector<ServiceInfo> list_services(const std::string& domain, bool group_access) {
  std::vector<ServiceInfo> services;
  for (const std::string& object : list_objects(domain)) {
    SegmentReport report = inspect_object(object, group_access);
    if (report.exists) services.push_back(service_info_of(report));
  }
  return services;
}

bool service_exists(const std::string& domain, const std::string& service, bool group_access) {
  const SegmentReport report = inspect_object(service_object_name(domain, service), group_access);
  return report.valid && !report.stale() && report.service == service;
}

DeadNodeCleanup clean_up_dead_nodes(const std::string& domain, bool group_access) {
  DeadNodeCleanup total;
  for (const std::string& object : list_objects(domain)) {
    try {
      DeadNodeCleanup cleaned;
      const SegmentReport report = inspect_object(object, group_access);
      if (report.valid) {
        cleaned = ServiceSegment::clean_up_dead_nodes_of(object, group_access);
      } else if (report.stale() &&
                 remove_if_unused(object, group_access, "clean_up_dead_nodes").outcome ==
                     Removal::removed) {
        cleaned.removed_services = 1;  // damaged: its records are not to be trusted or counted
      }
      total.nodes += cleaned.nodes;
      total.ports += cleaned.ports;
      total.removed_services += cleaned.removed_services;
      total.removed_data_segments += cleaned.removed_data_segments;
    } catch (const Error&) {
      // Gone, or made another user's, since it was listed: nothing of this domain's to clean.
    }
  }
  for (const std::string& object : orphaned_data_segments(domain)) {
    if (remove_orphaned_data_segment(object).outcome == Removal::removed) {
      ++total.removed_data_segments;
    }
  }
  return total;
}

std::vector<std::string> orphaned_data_segments(const std::string& domain) {
  std::vector<std::string> orphans;
  for (std::string& object : objects_with_prefix(domain_data_segment_prefix(domain))) {
    const auto name = parse_data_segment_name(object);
    if (name && !SharedMemoryObject::status_of_name(name->service_object)) {
      orphans.push_back(std::move(object));
    }
  }
  return orphans;
}

Removal remove_orphaned_data_segment(const std::string& object) {
  const auto name = parse_data_segment_name(object);
  if (!name) return Removal{Removal::kept, "not a data segment's name"};
  try {
    // Opened before its service is looked for: a data segment created after that look (by a
    // port of a service created meanwhile) is another object, and its name is then kept.
    auto opened = SharedMemoryObject::open_to_inspect(object);
    if (!opened) return Removal{Removal::kept, "gone"};
    if (SharedMemoryObject::status_of_name(name->service_object)) {
      return Removal{Removal::kept, "its service exists"};
    }
    int error = 0;
    const auto unlinked = opened->unlink_if_still_named(&error);
    return removal_of(unlinked, error, [&] {
      return std::string(kShmDirectory) + object +
             " removed: a data segment of a service that no longer exists";
    });
  } catch (const Error& e) {
    return Removal{Removal::failed, cause_of(e)};
  }
}

}  // namespace floe::detail
