#include "registry/service_segment.hpp"

#include <sys/stat.h>

#include <atomic>

#include "floe/error.hpp"
#include "platform/crash_point.hpp"
#include "platform/liveness_mark.hpp"
#include "registry/limits.hpp"
#include "registry/segment_header.hpp"
#include "shm/atomics.hpp"
#include "shm/doorbell.hpp"

namespace floe::detail {
namespace {

constexpr std::uint32_t kNoChunk = 0xffffffffu;

ProcessIdentity identity_of(const NodeRecord& n) {
  return ProcessIdentity{load(const_cast<std::uint64_t&>(n.pid)),
                         load(const_cast<std::uint64_t&>(n.start_time))};
}

}  // namespace

bool is_channel_held_by_server(std::byte* base, const SegmentLayout& layout, std::uint32_t client,
                               std::uint32_t channel, std::uint64_t request_id) noexcept {
  if (request_id == 0) return false;
  for (std::uint32_t s = 0; s < layout.limits().max_servers; ++s) {
    if (load(layout.server(base, s)->state) != static_cast<std::uint32_t>(SlotState::active)) {
      continue;
    }
    ResponseChannelHead* head =
        layout.response_head(layout.response_channel(base, s, client, channel));
    if ((load(head->open_request_id) & ~kReceivedBit) == request_id) return true;
  }
  return false;
}

void collect_client_channels(std::byte* base, const SegmentLayout& layout,
                             std::uint32_t client) noexcept {
  const std::uint32_t chunks = layout.request_chunks_per_client();
  for (std::uint32_t k = 0; k < layout.limits().max_active_requests_per_client; ++k) {
    ClientChannel* channel = layout.client_channel(base, client, k);
    const std::uint32_t chunk = load(channel->chunk);
    if (chunk >= chunks || load(channel->pending_alive) != 0) continue;
    if (is_channel_held_by_server(base, layout, client, k, load(channel->request_id))) continue;
    store(channel->chunk, kNoChunk);
    layout.release_request_chunk(base, client, chunk, RequestChunkState::bound);
  }
}

ServiceSegment::ServiceSegment(Passkey, SharedMemoryObject object, Mapping mapping,
                               SegmentLayout layout, std::string service_name,
                               std::uint32_t node_index)
    : object_(std::move(object)),
      mapping_(std::move(mapping)),
      layout_(layout),
      service_name_(std::move(service_name)),
      node_index_(node_index) {}

ServiceSegment::~ServiceSegment() {
  if (node_index_ == kNoNode) return;  // never registered: open() failed
  try {
    Lock lock(*this);
    store(layout_.node(base(), node_index_)->state, static_cast<std::uint32_t>(SlotState::free));
    drop_liveness_mark(object_.fd(), node_index_);
    reclaim_dead_nodes_locked();
    if (!has_live_node_locked()) remove_locked();
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
  return unlinked;
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
  const NodeRecord* record = layout_.node(base(), node);
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
    reclaim_dead_nodes_locked();
  } catch (...) {
  }
}

void ServiceSegment::reclaim_dead_nodes_locked() noexcept {
  constexpr auto active = static_cast<std::uint32_t>(SlotState::active);
  constexpr auto free = static_cast<std::uint32_t>(SlotState::free);
  bool reclaimed = false;
  for (std::uint32_t n = 0; n < limits().max_nodes; ++n) {
    NodeRecord* record = layout_.node(base(), n);
    if (load(record->state) != active) continue;
    if (is_node_alive(n)) continue;
    for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
      PortRecord* port = layout_.client(base(), c);
      if (load(port->state) == active && load(port->node) == n) {
        store(port->state, free);
        reset_client_resources(c);
      }
    }
    for (std::uint32_t s = 0; s < limits().max_servers; ++s) {
      PortRecord* port = layout_.server(base(), s);
      if (load(port->state) == active && load(port->node) == n) {
        store(port->state, free);
        reset_server_resources(s);
      }
    }
    store(record->state, free);
    reclaimed = true;
  }
  if (reclaimed) collect_orphaned_channels();
}

void ServiceSegment::reset_client_resources(std::uint32_t client) noexcept {
  const StoredLimits& l = limits();
  std::byte* b = base();
  for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
    store(layout_.client_channel(b, client, k)->pending_alive, 0u);
  }
  if (!l.enable_fire_and_forget_requests) {
    // Requests nobody will read the answers of are withdrawn from the servers.
    for (std::uint32_t s = 0; s < l.max_servers; ++s) {
      layout_.request_queue(b, client, s).drain([&](std::uint64_t entry) {
        const std::uint32_t k = entry_index(entry);
        if (k >= l.max_active_requests_per_client) return;
        std::uint64_t id = entry_request_id(entry);
        compare_exchange(
            layout_.response_head(layout_.response_channel(b, s, client, k))->open_request_id, id,
            std::uint64_t{0});
      });
    }
  }
  for (std::uint32_t i = 0; i < layout_.request_chunks_per_client(); ++i) {
    layout_.release_request_chunk(b, client, i, RequestChunkState::loaned);
  }
  for (std::uint32_t s = 0; s < l.max_servers; ++s) {
    for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
      std::byte* channel = layout_.response_channel(b, s, client, k);
      layout_.response_queue(channel).drain([&](std::uint64_t entry) {
        layout_.release_response_chunk(channel, entry_index(entry), ResponseChunkState::queued);
      });
      for (std::uint32_t i = 0; i < layout_.response_chunks_per_channel(); ++i) {
        layout_.release_response_chunk(channel, i, ResponseChunkState::borrowed);
      }
    }
  }
}

void ServiceSegment::reset_server_resources(std::uint32_t server) noexcept {
  const StoredLimits& l = limits();
  std::byte* b = base();
  for (std::uint32_t c = 0; c < l.max_clients; ++c) {
    layout_.request_queue(b, c, server).drain([](std::uint64_t) {});
    const bool client_gone =
        load(layout_.client(b, c)->state) != static_cast<std::uint32_t>(SlotState::active);
    for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
      std::byte* channel = layout_.response_channel(b, server, c, k);
      store(layout_.response_head(channel)->open_request_id, std::uint64_t{0});
      if (client_gone) {
        // Queued and borrowed responses stay for a live client to read; a gone one reads no more.
        layout_.response_queue(channel).drain([](std::uint64_t) {});
      }
      for (std::uint32_t i = 0; i < layout_.response_chunks_per_channel(); ++i) {
        layout_.release_response_chunk(channel, i, ResponseChunkState::loaned);
        if (client_gone) {
          layout_.release_response_chunk(channel, i, ResponseChunkState::queued);
          layout_.release_response_chunk(channel, i, ResponseChunkState::borrowed);
        }
      }
    }
  }
}

void ServiceSegment::collect_orphaned_channels() noexcept {
  for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
    if (load(layout_.client(base(), c)->state) == static_cast<std::uint32_t>(SlotState::free)) {
      collect_client_channels(base(), layout_, c);
    }
  }
}

std::uint32_t ServiceSegment::claim_client_slot() {
  Lock lock(*this);
  reclaim_dead_nodes_locked();
  for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
    PortRecord* port = layout_.client(base(), c);
    if (load(port->state) != static_cast<std::uint32_t>(SlotState::free)) continue;
    reset_client_resources(c);
    collect_client_channels(base(), layout_, c);
    crash_point("port.reset");
    store(port->generation, load(port->generation) + 1);
    store(port->node, node_index_);
    if (load(port->next_request_id) == 0) store(port->next_request_id, std::uint64_t{1});
    store(port->state, static_cast<std::uint32_t>(SlotState::active));
    crash_point("port.claimed");
    return c;
  }
  throw Error(Errc::exceeds_max_clients,
              "floe: service '" + service_name_ + "' has max_clients = " +
                  std::to_string(limits().max_clients) + " clients already");
}

std::uint32_t ServiceSegment::claim_server_slot() {
  Lock lock(*this);
  reclaim_dead_nodes_locked();
  for (std::uint32_t s = 0; s < limits().max_servers; ++s) {
    PortRecord* port = layout_.server(base(), s);
    if (load(port->state) != static_cast<std::uint32_t>(SlotState::free)) continue;
    reset_server_resources(s);
    store(port->generation, load(port->generation) + 1);
    store(port->node, node_index_);
    store(port->state, static_cast<std::uint32_t>(SlotState::active));
    return s;
  }
  throw Error(Errc::exceeds_max_servers,
              "floe: service '" + service_name_ + "' has max_servers = " +
                  std::to_string(limits().max_servers) + " servers already");
}

void ServiceSegment::release_client_slot(std::uint32_t client) noexcept {
  try {
    Lock lock(*this);
    store(layout_.client(base(), client)->state, static_cast<std::uint32_t>(SlotState::free));
    reset_client_resources(client);
    collect_client_channels(base(), layout_, client);
  } catch (...) {
  }
}

void ServiceSegment::release_server_slot(std::uint32_t server) noexcept {
  try {
    Lock lock(*this);
    store(layout_.server(base(), server)->state, static_cast<std::uint32_t>(SlotState::free));
    reset_server_resources(server);
    collect_orphaned_channels();
    // Clients waiting for this server's answers must see its streams end.
    for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
      PortRecord* client = layout_.client(base(), c);
      ring(DoorbellWords{&client->waiting, &client->doorbell});
    }
  } catch (...) {
  }
}

void ServiceSegment::check_size() noexcept {
  struct stat status {};
  if (::fstat(object_.fd(), &status) == 0 &&
      static_cast<std::uint64_t>(status.st_size) < mapping_.size()) {
    mapping_.mark_damaged();
  }
}

void ServiceSegment::throw_damaged() const {
  throw Error(Errc::corrupted,
              "floe: service '" + service_name_ +
                  "': another process shrank its shared-memory segment while this one used it "
                  "(ftruncate on " +
                  kShmDirectory + object_.name() +
                  "); its ports here no longer reach anyone. Drop them and open the service again");
}

ServiceUsage ServiceSegment::usage() const noexcept {
  return usage_of(base(), layout_);
}

ServiceUsage usage_of(std::byte* b, const SegmentLayout& layout_) noexcept {
  ServiceUsage u;
  const StoredLimits& l = layout_.limits();
  u.segment_size = layout_.total_size();
  for (std::uint32_t n = 0; n < l.max_nodes; ++n) {
    u.nodes += load(layout_.node(b, n)->state) == static_cast<std::uint32_t>(SlotState::active);
  }
  for (std::uint32_t c = 0; c < l.max_clients; ++c) {
    u.clients += load(layout_.client(b, c)->state) == static_cast<std::uint32_t>(SlotState::active);
    for (std::uint32_t i = 0; i < layout_.request_chunks_per_client(); ++i) {
      ++u.request_chunks;
      u.request_chunks_in_use += load(*layout_.request_chunk_state(b, c, i)) != 0;
    }
  }
  for (std::uint32_t s = 0; s < l.max_servers; ++s) {
    u.servers += load(layout_.server(b, s)->state) == static_cast<std::uint32_t>(SlotState::active);
    for (std::uint32_t c = 0; c < l.max_clients; ++c) {
      for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
        std::byte* channel = layout_.response_channel(b, s, c, k);
        for (std::uint32_t i = 0; i < layout_.response_chunks_per_channel(); ++i) {
          ++u.response_chunks;
          u.response_chunks_in_use += load(*layout_.response_chunk_state(channel, i)) != 0;
        }
      }
    }
  }
  return u;
}

std::shared_ptr<ServiceSegment> open_service(const NodeState& node, const ServiceSpec& spec,
                                             OpenMode mode) {
  return ServiceSegment::open(node, spec, mode);
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

}  // namespace floe::detail
