#include "registry/service_segment.hpp"

#include <sys/stat.h>

#include <atomic>

#include "floe/error.hpp"
#include "log.hpp"
#include "platform/crash_point.hpp"
#include "platform/liveness_mark.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"
#include "registry/segment_header.hpp"
#include "segment/channel_protocol.hpp"
#include "shm/atomics.hpp"
#include "shm/doorbell.hpp"

namespace floe::detail {
namespace {

ProcessIdentity identity_of(const NodeRecord& n) {
  return ProcessIdentity{load(const_cast<std::uint64_t&>(n.pid)),
                         load(const_cast<std::uint64_t&>(n.start_time))};
}

}  // namespace

ServiceSegment::ServiceSegment(Passkey, SharedMemoryObject object, Mapping mapping,
                               SegmentLayout layout, std::string service_name,
                               AttributeSet attributes, std::uint32_t node_index)
    : object_(std::move(object)),
      mapping_(std::move(mapping)),
      view_(mapping_.data(), layout),
      service_name_(std::move(service_name)),
      attributes_(std::move(attributes)),
      node_index_(node_index) {}

ServiceSegment::~ServiceSegment() {
  if (node_index_ == kNoNode) return;  // never registered: open() failed
  try {
    Lock lock(*this);
    store(view_.node(node_index_)->state, static_cast<std::uint32_t>(SlotState::free));
    drop_liveness_mark(object_.fd(), node_index_);
    reclaim_dead_nodes_locked("its node leaving");
    if (!has_live_node_locked() && remove_locked() == SharedMemoryObject::Unlinked::yes) {
      log(LogLevel::info, [&] {
        return log_name() + " removed: its last node (node " + std::to_string(node_index_) +
               " of pid " + std::to_string(current_process().pid) + ") left";
      });
    }
  } catch (...) {
    // flock failing leaves the segment to the next process that opens it: it finds no live node.
  }
}

SharedMemoryObject::Unlinked ServiceSegment::remove_locked(int* error) noexcept {
  return remove_object_locked(object_, mapping_, error);
}

SharedMemoryObject::Unlinked remove_object_locked(const SharedMemoryObject& object,
                                                  const Mapping& mapping, int* error) noexcept {
  std::uint32_t* state = mapping.size() >= sizeof(ServiceHeader)
                             ? &reinterpret_cast<ServiceHeader*>(mapping.data())->state
                             : nullptr;
  // The state word is not asked whether it was removed already: any process can write it, and
  // a name left to an object that says "removed" would turn every open away. Only the name
  // (removed by someone else already, or given to a newer service since) decides.
  // Only the name of this very object: an operator may have removed it and another process
  // created a new service under the name since. Marked removed only once unlinked, and all under
  // the lock: a process that opened it before waits for the lock, then sees "removed" and looks
  // again; one that cannot unlink it (a group member, in sticky /dev/shm) leaves it stale for
  // its owner to replace, not marked removed under a name that would then never be freed.
  const auto unlinked = object.unlink_if_still_named(error);
  if (unlinked != SharedMemoryObject::Unlinked::failed && state != nullptr) {
    store(*state, static_cast<std::uint32_t>(SegmentState::removed));
  }
  // Its ports' data segments go with it. Not when the name was given to a newer service
  // meanwhile: theirs would be named alike. Processes still holding a removed damaged service
  // keep their mappings; nobody new meets its data.
  if (unlinked == SharedMemoryObject::Unlinked::yes) {
    unlink_data_segments(data_segment_prefix(object.name()));
  }
  return unlinked;
}

std::uint32_t unlink_data_segments(std::string_view prefix) noexcept {
  try {
    return static_cast<std::uint32_t>(unlink_objects_with_prefix(prefix));
  } catch (...) {
    return 0;  // out of memory listing /dev/shm: the next cleanup finds them
  }
}

void add_data_segment_usage(ServiceUsage& usage, const std::string& service_object) noexcept {
  try {
    for (const std::string& object : objects_with_prefix(data_segment_prefix(service_object))) {
      if (const auto status = SharedMemoryObject::status_of_name(object)) {
        ++usage.data_segments;
        usage.data_segment_bytes += static_cast<std::uint64_t>(status->st_size);
      }
    }
  } catch (...) {
    // Out of memory listing /dev/shm: the counts say what was seen.
  }
}

std::uint32_t ServiceSegment::unlink_data_segments_locked(DataSegmentWriter writer,
                                                          std::uint32_t slot,
                                                          std::uint32_t generation) const noexcept {
  const std::uint64_t writes_slices = writer == DataSegmentWriter::client
                                          ? view_.layout().request_slice_capacity()
                                          : view_.layout().response_slice_capacity();
  if (writes_slices == 0) return 0;
  return unlink_data_segments(data_segment_prefix(object_.name(), writer, slot, generation));
}

bool ServiceSegment::has_live_node_locked() const noexcept {
  // The marks, not the records: a record may have been scribbled over, a mark cannot be.
  return is_segment_held(object_);
}

bool ServiceSegment::is_node_alive(std::uint32_t node) const noexcept {
  return node == node_index_ || is_marked_alive(object_.fd(), node);
}

std::optional<ProcessIdentity> ServiceSegment::port_owner(const PortRecord& port) const noexcept {
  const std::uint32_t node = load(const_cast<std::uint32_t&>(port.node));
  if (node >= limits().max_nodes) return std::nullopt;
  const NodeRecord* record = view_.node(node);
  if (load(const_cast<std::uint32_t&>(record->state)) !=
      static_cast<std::uint32_t>(SlotState::active)) {
    return std::nullopt;
  }
  return identity_of(*record);
}

bool ServiceSegment::is_port_owner_alive(const PortRecord& port) const noexcept {
  const auto owner = port_owner(port);
  const std::uint32_t node = load(const_cast<std::uint32_t&>(port.node));
  return owner && is_node_alive(node);
}

void ServiceSegment::reclaim_dead_nodes() noexcept {
  try {
    Lock lock(*this);
    reclaim_dead_nodes_locked("a port that found a peer's process gone");
  } catch (...) {
  }
}

DeadNodeCleanup ServiceSegment::clean_up_dead_nodes_of(const std::string& object_name,
                                                       bool group_access) {
  auto object = SharedMemoryObject::open_existing(object_name, group_access);
  if (!object) return {};
  // Declared before the lock, so that the lock goes before the descriptor it is held on.
  std::optional<ServiceSegment> segment;
  ExclusiveLock lock(object->fd());
  SegmentRead read = read_segment(*object, object->status());
  if (!read.judgement.sound() ||
      read.header.state != static_cast<std::uint32_t>(SegmentState::ready)) {
    return {};
  }
  // Never registered (kNoNode): every node is judged by its mark, this process's others too.
  segment.emplace(Passkey{}, std::move(*object), std::move(read.mapping), *read.judgement.layout,
                  std::string(read.header.name, read.header.name_length),
                  AttributeSet{} /* a cleanup reads no attributes */, kNoNode);
  DeadNodeCleanup cleaned = segment->reclaim_dead_nodes_locked("clean_up_dead_nodes");
  if (!segment->has_live_node_locked() &&
      segment->remove_locked() == SharedMemoryObject::Unlinked::yes) {
    cleaned.removed_services = 1;  // its data segments with it (remove_object_locked)
    log(LogLevel::info, [&] {
      return segment->log_name() + " removed by clean_up_dead_nodes: no live process held it";
    });
  }
  return cleaned;
}

DeadNodeCleanup ServiceSegment::reclaim_dead_nodes_locked(std::string_view occasion) noexcept {
  constexpr auto active = static_cast<std::uint32_t>(SlotState::active);
  constexpr auto free = static_cast<std::uint32_t>(SlotState::free);
  DeadNodeCleanup reclaimed;
  for (std::uint32_t n = 0; n < limits().max_nodes; ++n) {
    NodeRecord* record = view_.node(n);
    if (load(record->state) != active) continue;
    if (is_node_alive(n)) continue;
    std::uint32_t clients = 0, servers = 0, data_segments = 0;
    // A dead writer's data segments are unlinked with its slot (receivers holding its chunks
    // keep their mappings): its chunks are free now, and nobody writes there any more.
    for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
      PortRecord* port = view_.client(c);
      if (load(port->state) == active && load(port->node) == n) {
        store(port->state, free);
        reset_client_resources(view_, c);
        data_segments +=
            unlink_data_segments_locked(DataSegmentWriter::client, c, load(port->generation));
        ++clients;
      }
    }
    for (std::uint32_t s = 0; s < limits().max_servers; ++s) {
      PortRecord* port = view_.server(s);
      if (load(port->state) == active && load(port->node) == n) {
        store(port->state, free);
        reset_server_resources(view_, s);
        data_segments +=
            unlink_data_segments_locked(DataSegmentWriter::server, s, load(port->generation));
        ++servers;
      }
    }
    log(LogLevel::info, [&] {
      return log_name() + ": node " + std::to_string(n) + " of pid " +
             std::to_string(identity_of(*record).pid) +
             " is dead (its liveness lock was released: the process is gone), found by " +
             std::string(occasion) + "; reclaimed its node record, " + std::to_string(clients) +
             " client(s) and " + std::to_string(servers) +
             " server(s) with the chunks and requests they held" +
             (data_segments == 0 ? std::string()
                                 : " and " + std::to_string(data_segments) + " data segment(s)");
    });
    store(record->state, free);
    reclaimed.ports += clients + servers;
    reclaimed.removed_data_segments += data_segments;
    ++reclaimed.nodes;
  }
  if (reclaimed.nodes > 0) collect_orphaned_channels(view_);
  return reclaimed;
}

std::uint32_t ServiceSegment::claim_client_slot() {
  Lock lock(*this);
  reclaim_dead_nodes_locked("creating a client");
  for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
    PortRecord* port = view_.client(c);
    if (load(port->state) != static_cast<std::uint32_t>(SlotState::free)) continue;
    reset_client_resources(view_, c);
    collect_client_channels(view_, c);
    // What the slot's last life left, if its process died between freeing the slot and
    // unlinking its data segments (none were left otherwise: the prefix finds nothing).
    unlink_data_segments_locked(DataSegmentWriter::client, c, load(port->generation));
    crash_point("port.reset");
    store(port->generation, load(port->generation) + 1);
    store(port->node, node_index_);
    if (load(port->next_request_id) == 0) store(port->next_request_id, std::uint64_t{1});
    store(port->state, static_cast<std::uint32_t>(SlotState::active));
    crash_point("port.claimed");
    return c;
  }
  log(LogLevel::warn, [&] {
    return log_name() +
           ": no client created, all max_clients = " + std::to_string(limits().max_clients) +
           " client slots are held by live processes";
  });
  throw Error(Errc::exceeds_max_clients,
              limit_reached_message("service '" + service_name_ + "'", LimitId::max_clients,
                                    limits().max_clients, "clients", "drop a client first"));
}

std::uint32_t ServiceSegment::claim_server_slot() {
  Lock lock(*this);
  reclaim_dead_nodes_locked("creating a server");
  for (std::uint32_t s = 0; s < limits().max_servers; ++s) {
    PortRecord* port = view_.server(s);
    if (load(port->state) != static_cast<std::uint32_t>(SlotState::free)) continue;
    reset_server_resources(view_, s);
    unlink_data_segments_locked(DataSegmentWriter::server, s, load(port->generation));
    store(port->generation, load(port->generation) + 1);
    store(port->node, node_index_);
    store(port->state, static_cast<std::uint32_t>(SlotState::active));
    ring_every_client();  // a client may wait for a server (Client::wait_for_server)
    return s;
  }
  log(LogLevel::warn, [&] {
    return log_name() +
           ": no server created, all max_servers = " + std::to_string(limits().max_servers) +
           " server slots are held by live processes";
  });
  throw Error(Errc::exceeds_max_servers,
              limit_reached_message("service '" + service_name_ + "'", LimitId::max_servers,
                                    limits().max_servers, "servers", "drop a server first"));
}

void ServiceSegment::release_client_slot(std::uint32_t client) noexcept {
  try {
    Lock lock(*this);
    store(view_.client(client)->state, static_cast<std::uint32_t>(SlotState::free));
    reset_client_resources(view_, client);
    collect_client_channels(view_, client);
  } catch (...) {
  }
}

void ServiceSegment::release_server_slot(std::uint32_t server) noexcept {
  try {
    Lock lock(*this);
    store(view_.server(server)->state, static_cast<std::uint32_t>(SlotState::free));
    reset_server_resources(view_, server);
    collect_orphaned_channels(view_);
    ring_every_client();  // clients waiting for this server's answers must see its streams end
  } catch (...) {
  }
}

void ServiceSegment::ring_every_client() const noexcept {
  // A load per client slot; a syscall only for a client asleep on its doorbell.
  for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
    PortRecord* client = view_.client(c);
    ring(DoorbellWords{&client->waiting, &client->doorbell});
  }
}

void ServiceSegment::check_size() noexcept {
  struct stat status {};
  if (::fstat(object_.fd(), &status) == 0 &&
      static_cast<std::uint64_t>(status.st_size) < mapping_.size()) {
    mapping_.mark_damaged();
    // Looked at again on every liveness check: the text is built the first time only.
    if (!damage_logged_.load(std::memory_order_relaxed)) {
      log_damage("found shrunk to " + human_size(static_cast<std::uint64_t>(status.st_size)) +
                 " by fstat");
    }
  }
}

void ServiceSegment::throw_damaged() const {
  throw Error(Errc::corrupted, damage_message());
}

std::string ServiceSegment::damage_message() const {
  log_damage("a SIGBUS was caught on access and the mapping replaced by private zeros");
  return "floe: service '" + service_name_ +
         "': another process shrank its shared-memory segment while this one used it "
         "(ftruncate on " +
         kShmDirectory + object_.name() +
         "); its ports here no longer reach anyone. Drop them and open the service again";
}

std::string ServiceSegment::log_name() const {
  return service_in_domain(service_name_, domain_of_object(object_.name()));
}

void ServiceSegment::log_damage(std::string_view how) const noexcept {
  if (damage_logged_.exchange(true)) return;
  log(LogLevel::error, [&] {
    return log_name() + ": another process shrank its shared-memory segment " + kShmDirectory +
           object_.name() + " of " + human_size(mapping_.size()) + " while this one used it (" +
           std::string(how) + "); its ports in this process no longer reach anyone";
  });
}

ServiceUsage ServiceSegment::usage() const noexcept {
  ServiceUsage usage = usage_of(view_);
  const SegmentLayout& layout = view_.layout();
  if (layout.request_slice_capacity() != 0 || layout.response_slice_capacity() != 0) {
    add_data_segment_usage(usage, object_.name());
  }
  return usage;
}

namespace {

/// How much a failed create or open matters to whoever reads the log: a limit or the machine's
/// memory, a config, damaged shared memory; a service that is not there yet, or whose types
/// differ, is the caller's to handle and only debug.
LogLevel level_of_open_failure(const std::error_code& code) noexcept {
  if (code == Errc::corrupted) return LogLevel::error;
  for (Errc limit : {Errc::exceeds_max_nodes, Errc::exceeds_max_clients, Errc::exceeds_max_servers,
                     Errc::out_of_memory, Errc::incompatible_limits, Errc::invalid_config}) {
    if (code == limit) return LogLevel::warn;
  }
  return LogLevel::debug;
}

}  // namespace

std::shared_ptr<ServiceSegment> open_service(const NodeState& node, const ServiceSpec& spec,
                                             OpenMode mode) {
  try {
    return ServiceSegment::open(node, spec, mode);
  } catch (const Error& e) {
    log(level_of_open_failure(e.code()), [&] {
      const char* doing = mode == OpenMode::create ? "create"
                          : mode == OpenMode::open ? "open"
                                                   : "open_or_create";
      return service_in_domain(spec.name, node.config.domain) + ": " + doing + " by pid " +
             std::to_string(current_process().pid) + " failed: " + e.what();
    });
    throw;
  }
}

const std::string& service_name(const ServiceSegment& segment) noexcept {
  return segment.service_name();
}

RequestResponseLimits service_limits(const ServiceSegment& segment) noexcept {
  return from_stored(segment.limits());
}

ServiceUsage service_usage(const ServiceSegment& segment) noexcept {
  return segment.usage();
}

const AttributeSet& service_attributes(const ServiceSegment& segment) noexcept {
  return segment.attributes();
}

bool ServiceSegment::shared_with_group() const noexcept {
  struct stat status {};
  return ::fstat(object_.fd(), &status) == 0 && (status.st_mode & 0070) != 0;
}

}  // namespace floe::detail
