#include "registry/service_segment.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "floe/error.hpp"
#include "platform/crash_point.hpp"
#include "platform/liveness_mark.hpp"
#include "registry/names.hpp"
#include "shm/atomics.hpp"
#include "shm/doorbell.hpp"

namespace floe::detail {
namespace {

constexpr std::uint32_t kNoChunk = 0xffffffffu;

StoredType to_stored(const TypeInfo& type, const char* role) {
  if (type.name.size() > kMaxTypeNameLength) {
    throw Error(Errc::invalid_name, std::string("floe: the ") + role +
                                        " type name is longer than 255 characters; give the type "
                                        "a floe_type_name");
  }
  StoredType stored{};
  std::memcpy(stored.name, type.name.data(), type.name.size());
  stored.size = type.size;
  stored.alignment = type.alignment;
  return stored;
}

StoredLimits to_stored(const RequestResponseLimits& l) {
  StoredLimits s{};
  s.max_clients = l.max_clients;
  s.max_servers = l.max_servers;
  s.max_nodes = l.max_nodes;
  s.max_active_requests_per_client = l.max_active_requests_per_client;
  s.max_loaned_requests = l.max_loaned_requests;
  s.max_response_buffer_size = l.max_response_buffer_size;
  s.max_borrowed_responses_per_pending_response = l.max_borrowed_responses_per_pending_response;
  s.max_loaned_responses_per_request = l.max_loaned_responses_per_request;
  s.enable_fire_and_forget_requests = l.enable_fire_and_forget_requests;
  s.enable_safe_overflow_for_requests = l.enable_safe_overflow_for_requests;
  s.enable_safe_overflow_for_responses = l.enable_safe_overflow_for_responses;
  return s;
}

bool same_type(const StoredType& a, const StoredType& b) {
  return std::strncmp(a.name, b.name, sizeof a.name) == 0 && a.size == b.size &&
         a.alignment == b.alignment;
}

std::string describe(const StoredType& t) {
  if (t.size == 0) return "none";
  return std::string(t.name, strnlen(t.name, sizeof t.name)) + " (size " + std::to_string(t.size) +
         ", alignment " + std::to_string(t.alignment) + ")";
}

struct WantedService {
  std::string object_name;
  StoredType request, response, request_user_header, response_user_header;
  StoredLimits limits;
};

void check_types(const ServiceHeader& h, const WantedService& w, const std::string& service) {
  const std::pair<const StoredType*, const StoredType*> pairs[] = {
      {&h.request, &w.request},
      {&h.response, &w.response},
      {&h.request_user_header, &w.request_user_header},
      {&h.response_user_header, &w.response_user_header}};
  const char* roles[] = {"request", "response", "request user header", "response user header"};
  for (int i = 0; i < 4; ++i) {
    if (!same_type(*pairs[i].first, *pairs[i].second)) {
      throw Error(Errc::incompatible_types, "floe: service '" + service + "' has " + roles[i] +
                                                " type " + describe(*pairs[i].first) + ", not " +
                                                describe(*pairs[i].second));
    }
  }
}

void check_limits(const StoredLimits& have, const StoredLimits& want, std::uint32_t asked,
                  const std::string& service) {
  struct Limit {
    const char* name;
    std::uint32_t have, want;
    bool is_flag;
  };
  const Limit limits[] = {
      {"max_clients", have.max_clients, want.max_clients, false},
      {"max_servers", have.max_servers, want.max_servers, false},
      {"max_nodes", have.max_nodes, want.max_nodes, false},
      {"max_active_requests_per_client", have.max_active_requests_per_client,
       want.max_active_requests_per_client, false},
      {"max_loaned_requests", have.max_loaned_requests, want.max_loaned_requests, false},
      {"max_response_buffer_size", have.max_response_buffer_size, want.max_response_buffer_size,
       false},
      {"max_borrowed_responses_per_pending_response",
       have.max_borrowed_responses_per_pending_response,
       want.max_borrowed_responses_per_pending_response, false},
      {"max_loaned_responses_per_request", have.max_loaned_responses_per_request,
       want.max_loaned_responses_per_request, false},
      {"enable_fire_and_forget_requests", have.enable_fire_and_forget_requests,
       want.enable_fire_and_forget_requests, true},
      {"enable_safe_overflow_for_requests", have.enable_safe_overflow_for_requests,
       want.enable_safe_overflow_for_requests, true},
      {"enable_safe_overflow_for_responses", have.enable_safe_overflow_for_responses,
       want.enable_safe_overflow_for_responses, true},
  };
  for (std::uint32_t i = 0; i < std::size(limits); ++i) {
    if ((asked & (1u << i)) == 0) continue;
    const Limit& l = limits[i];
    const bool ok = l.is_flag ? l.have == l.want : l.want <= l.have;
    if (!ok) {
      throw Error(Errc::incompatible_limits, "floe: service '" + service + "' was created with " +
                                                 l.name + " = " + std::to_string(l.have) +
                                                 ", which does not satisfy the requested " +
                                                 std::to_string(l.want));
    }
  }
}

}  // namespace

std::optional<SegmentLayout> layout_of(const ServiceHeader& h) {
  return SegmentLayout::compute(h.limits, h.request, h.response, h.request_user_header,
                                h.response_user_header);
}

namespace {

ServiceHeader* shared_header(const Mapping& mapping) noexcept {
  return reinterpret_cast<ServiceHeader*>(mapping.data());
}

ProcessIdentity identity_of(const NodeRecord& n) {
  return ProcessIdentity{load(const_cast<std::uint64_t&>(n.pid)),
                         load(const_cast<std::uint64_t&>(n.start_time))};
}

/// What a kernel call's error message says without floe's own ": <condition>" appended.
std::string cause_of(const Error& e) {
  std::string cause = e.what();
  const std::string suffix = ": " + e.code().message();
  if (cause.size() > suffix.size() && cause.ends_with(suffix)) {
    cause.resize(cause.size() - suffix.size());
  }
  return cause;
}

/// Rethrows a failed shared-memory call of the create or open path as a floe::Error that says
/// which service, what size, and what to do about it.
[[noreturn]] void throw_for_service(const Error& e, const std::string& service,
                                    const std::string& doing, std::uint64_t size,
                                    const SegmentLayout* layout) {
  std::string message = "floe: service '" + service + "': cannot " + doing +
                        " its shared-memory segment of " + human_size(size) + ": " + cause_of(e);
  if (e.code() == Errc::out_of_memory) {
    if (layout != nullptr) {
      message +=
          ". Its size is " + layout->describe_size() + ". Lower " + layout->limits_to_lower() + ",";
    } else {
      message += ". Lower the service's limits,";
    }
    // Mapping fails for want of address space (ulimit -v), not of room in /dev/shm.
    message += doing == "map"
                   ? std::string(" or raise the address-space limit (ulimit -v)")
                   : std::string(" or enlarge ") + kShmDirectory + " (mount -o remount,size=...)";
  }
  throw Error(e.code(), message);
}

/// A segment /dev/shm has no room for is refused before anything is created, with the numbers
/// that made it so big: it would otherwise fail later, less clearly, or not at all until a
/// SIGBUS on first touch.
void check_room_for(const std::string& service, const SegmentLayout& layout) {
  struct statvfs shm {};
  if (::statvfs(kShmDirectory, &shm) != 0) return;  // posix_fallocate still checks
  const std::uint64_t available = std::uint64_t{shm.f_bavail} * shm.f_frsize;
  if (layout.total_size() <= available) return;
  throw Error(Errc::out_of_memory,
              "floe: service '" + service + "' needs a shared-memory segment of " +
                  human_size(layout.total_size()) + ", but " + kShmDirectory + " has " +
                  human_size(available) + " free. Its size is " + layout.describe_size() +
                  ". Lower " + layout.limits_to_lower() + ", or enlarge " + kShmDirectory +
                  " (mount -o remount,size=...)");
}

/// The service's object, if there is one and this process may join it (see refusal_to_join).
std::optional<SharedMemoryObject> open_service_object(const std::string& object_name,
                                                      const std::string& service,
                                                      bool group_access) {
  try {
    return SharedMemoryObject::open_existing(object_name, group_access);
  } catch (const Error& e) {
    std::string cause = cause_of(e);
    if (cause.starts_with("floe: ")) cause.erase(0, 6);
    throw Error(e.code(), "floe: service '" + service + "': " + cause);
  }
}

/// Takes a free node record and its liveness mark. A record whose mark another process still
/// holds is skipped: its owner is leaving right now.
std::uint32_t claim_node_record(std::byte* base, const SegmentLayout& layout,
                                const ProcessIdentity& self, int fd) {
  for (std::uint32_t n = 0; n < layout.limits().max_nodes; ++n) {
    NodeRecord* record = layout.node(base, n);
    if (load(record->state) != static_cast<std::uint32_t>(SlotState::free)) continue;
    if (!hold_liveness_mark(fd, n)) continue;
    store(record->pid, self.pid);
    store(record->start_time, self.start_time);
    store(record->state, static_cast<std::uint32_t>(SlotState::active));
    return n;
  }
  return kNoChunk;
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

std::shared_ptr<ServiceSegment> ServiceSegment::open(const NodeState& node, const ServiceSpec& spec,
                                                     OpenMode mode) {
  if (!is_valid_service_name(spec.name)) {
    throw Error(Errc::invalid_name,
                "floe: invalid service name '" + spec.name +
                    "': want 1 to 255 printable characters in '/'-separated non-empty parts");
  }
  if (!is_valid_domain(node.config.domain)) {
    throw Error(Errc::invalid_config, "floe: invalid domain '" + node.config.domain + "'");
  }
  WantedService wanted{service_object_name(node.config.domain, spec.name),
                       to_stored(spec.request, "request"),
                       to_stored(spec.response, "response"),
                       to_stored(spec.request_user_header, "request user header"),
                       to_stored(spec.response_user_header, "response user header"),
                       to_stored(spec.limits)};
  const ProcessIdentity self = current_process();

  auto create = [&]() -> std::shared_ptr<ServiceSegment> {
    auto layout = SegmentLayout::compute(wanted.limits, wanted.request, wanted.response,
                                         wanted.request_user_header, wanted.response_user_header);
    if (!layout) {
      throw Error(Errc::incompatible_limits,
                  "floe: the limits of service '" + spec.name + "' are out of range");
    }
    check_room_for(spec.name, *layout);
    // The segment is built as an object without a name and published with link(2), which fails
    // if the name exists: nobody can ever open a half-initialized service, and a creator that
    // dies before publishing leaves nothing behind.
    std::optional<SharedMemoryObject> object;
    Mapping mapping;
    const char* doing = "create";
    try {
      object = SharedMemoryObject::create_unnamed(node.config.group_access ? 0660 : 0600);
      // Marked alive before it has a name: once published, nobody can take it for stale.
      hold_liveness_mark(object->fd(), 0);
      crash_point("create.unnamed");
      doing = "reserve";
      object->reserve(layout->total_size());
      doing = "map";
      mapping = Mapping(object->fd(), layout->total_size());
    } catch (const Error& e) {
      throw_for_service(e, spec.name, doing, layout->total_size(), &*layout);
    }
    ServiceHeader* header = layout->header(mapping.data());
    header->magic = kSegmentMagic;
    header->layout_version = kLayoutVersion;
    header->segment_size = layout->total_size();
    header->name_length = static_cast<std::uint32_t>(spec.name.size());
    std::memcpy(header->name, spec.name.data(), spec.name.size());
    header->request = wanted.request;
    header->response = wanted.response;
    header->request_user_header = wanted.request_user_header;
    header->response_user_header = wanted.response_user_header;
    header->limits = wanted.limits;
    for (std::uint32_t c = 0; c < wanted.limits.max_clients; ++c) {
      for (std::uint32_t k = 0; k < wanted.limits.max_active_requests_per_client; ++k) {
        layout->client_channel(mapping.data(), c, k)->chunk = kNoChunk;
      }
      store(layout->client(mapping.data(), c)->next_request_id, std::uint64_t{1});
    }
    const std::uint32_t node_index = claim_node_record(mapping.data(), *layout, self, object->fd());
    store(header->state, static_cast<std::uint32_t>(SegmentState::ready));
    crash_point("create.initialized");

    try {
      if (!object->publish_as(wanted.object_name)) return nullptr;  // someone else's came first
    } catch (const Error& e) {
      throw Error(e.code(),
                  "floe: service '" + spec.name + "': cannot publish its segment: " + cause_of(e));
    }
    crash_point("create.published");
    return std::make_shared<ServiceSegment>(Passkey{}, std::move(*object), std::move(mapping),
                                            *layout, spec.name, node_index);
  };

  for (int attempt = 0; attempt < 64; ++attempt) {
    if (mode != OpenMode::open) {
      if (auto created = create()) return created;
    }
    auto object = open_service_object(wanted.object_name, spec.name, node.config.group_access);
    if (!object) {
      if (mode == OpenMode::open) {
        throw Error(Errc::service_does_not_exist,
                    "floe: service '" + spec.name + "' does not exist");
      }
      continue;
    }
    // The flock alone: the descriptor was just opened and is no one else's, so flock separates
    // this open from every other, other threads' included.
    ExclusiveLock lock(object->fd());
    crash_point("open.locked");
    const struct stat status = object->status();
    const auto size = static_cast<std::size_t>(status.st_size);
    // Not to be read at all: tmpfs would allocate a page for every page read of a sparse one.
    const auto implausible = implausible_size(status);
    Mapping mapping;
    ServiceHeader header{};
    if (size >= sizeof(ServiceHeader) && !implausible) {
      try {
        mapping = Mapping(object->fd(), size);
      } catch (const Error& e) {
        throw_for_service(e, spec.name, "map", size, nullptr);
      }
      std::memcpy(&header, mapping.data(), sizeof header);
      // Removed by the process that held the lock before: the name names something else by
      // now, so look again. Still named, the word lies (written over): judged below.
      if (load(shared_header(mapping)->state) ==
              static_cast<std::uint32_t>(SegmentState::removed) &&
          !object->is_still_named()) {
        continue;
      }
    }
    const bool this_version =
        header.magic == kSegmentMagic && header.layout_version == kLayoutVersion;
    const auto layout = this_version ? layout_of(header) : std::nullopt;
    std::optional<std::string> damage = implausible;
    if (damage) {
    } else if (size < sizeof(ServiceHeader)) {
      damage = "is smaller than a service header (shrunk?)";
    } else if (mapping.damaged()) {
      damage = "was shrunk while being read";
    } else if (this_version &&
               (header.state != static_cast<std::uint32_t>(SegmentState::ready) || !layout ||
                layout->total_size() != size || header.segment_size != size)) {
      damage = "disagrees with its own header (shrunk, or written over)";
    }
    // Damaged: replaced at once, even while processes hold it (they get Errc::corrupted, at the
    // latest at their next liveness check), so the service is usable again without anyone's
    // help. Stale: nobody holds it any more (every mark went with its process). An object of
    // another floe version, or not floe's at all, is neither: its processes do not mark
    // themselves, and it is left alone.
    if (damage || (this_version && !is_marked_alive(object->fd(), 0, kMaxNodes))) {
      int error = 0;
      if (remove_object_locked(*object, mapping, &error) == SharedMemoryObject::Unlinked::failed) {
        throw Error(Errc::permission_denied,
                    "floe: service '" + spec.name + "': its segment " + kShmDirectory +
                        wanted.object_name + " is " +
                        (damage ? "damaged" : "stale (every process that used it died)") +
                        ", but this process cannot remove it: " + std::strerror(error) + " (" +
                        describe_owner(status) + "; in sticky " + kShmDirectory +
                        " only its owner or root may remove it). Have its owner run `floe clean`");
      }
      if (mode == OpenMode::open) {
        throw Error(Errc::service_does_not_exist,
                    "floe: service '" + spec.name + "' does not exist (" +
                        (damage ? "a damaged segment was removed: it " + *damage
                                : std::string("a stale segment of dead processes was removed")) +
                        ")");
      }
      continue;
    }
    if (!this_version) {
      throw Error(Errc::corrupted,
                  "floe: " + wanted.object_name + " is not a floe service of this version");
    }
    if (header.name_length != spec.name.size() ||
        std::memcmp(header.name, spec.name.data(), spec.name.size()) != 0) {
      throw Error(Errc::corrupted, "floe: " + wanted.object_name + " holds another service");
    }
    auto segment = std::make_shared<ServiceSegment>(
        Passkey{}, std::move(*object), std::move(mapping), *layout, spec.name, kNoChunk);
    segment->reclaim_dead_nodes_locked();
    if (mode == OpenMode::create) {
      throw Error(Errc::service_already_exists, "floe: service '" + spec.name + "' already exists");
    }
    check_types(header, wanted, spec.name);
    check_limits(header.limits, wanted.limits, spec.explicitly_set, spec.name);
    segment->node_index_ =
        claim_node_record(segment->base(), segment->layout_, self, segment->object_.fd());
    crash_point("open.claimed");
    if (segment->node_index_ == kNoChunk) {
      throw Error(Errc::exceeds_max_nodes, "floe: service '" + spec.name + "' has max_nodes = " +
                                               std::to_string(header.limits.max_nodes) +
                                               " nodes already");
    }
    return segment;
  }
  throw Error(Errc::corrupted,
              "floe: service '" + spec.name + "' kept changing while it was being opened");
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
  if (node_index_ == kNoChunk) return;  // never registered: open() failed
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
  return is_marked_alive(object_.fd(), 0, kMaxNodes);
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
  throw Error(Errc::corrupted, damage_message());
}

std::string ServiceSegment::damage_message() const {
  return "floe: service '" + service_name_ +
         "': another process shrank its shared-memory segment while this one used it "
         "(ftruncate on " +
         kShmDirectory + object_.name() +
         "); its ports here no longer reach anyone. Drop them and open the service again";
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
  const StoredLimits& s = segment.limits();
  RequestResponseLimits l;
  l.max_clients = s.max_clients;
  l.max_servers = s.max_servers;
  l.max_nodes = s.max_nodes;
  l.max_active_requests_per_client = s.max_active_requests_per_client;
  l.max_loaned_requests = s.max_loaned_requests;
  l.max_response_buffer_size = s.max_response_buffer_size;
  l.max_borrowed_responses_per_pending_response = s.max_borrowed_responses_per_pending_response;
  l.max_loaned_responses_per_request = s.max_loaned_responses_per_request;
  l.enable_fire_and_forget_requests = s.enable_fire_and_forget_requests != 0;
  l.enable_safe_overflow_for_requests = s.enable_safe_overflow_for_requests != 0;
  l.enable_safe_overflow_for_responses = s.enable_safe_overflow_for_responses != 0;
  return l;
}

ServiceUsage service_usage(const ServiceSegment& segment) noexcept {
  return segment.usage();
}

}  // namespace floe::detail
