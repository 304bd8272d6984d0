// Creating and opening a service's segment: ServiceSegment::open and its steps.
//
//   open           checks what the builder asked for, then, until one step succeeds:
//   create_new       builds a new segment without a name and publishes it
//   open_existing    judges what is at the name (segment_header.hpp): a damaged or stale
//                    segment is removed (remove_unusable) and the name looked at again; a sound
//                    one is joined
//   join             checks types, alignments, limits and attributes and registers this
//                    process's node
//
// A node that holds the service open already (NodeState::open_services) skips all of it: the
// same checks (check_joinable), then its mapping and node record are shared (rejoin).

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "floe/error.hpp"
#include "log.hpp"
#include "platform/crash_point.hpp"
#include "platform/liveness_mark.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"
#include "registry/segment_header.hpp"
#include "registry/service_segment.hpp"
#include "shm/atomics.hpp"

namespace floe::detail {

/// What the builder asked for, checked, in the form the segment stores it.
struct WantedService {
  const ServiceSpec& spec;
  OpenMode mode;
  bool group_access;
  std::string object_name;
  StoredType request, response, request_user_header, response_user_header;
  /// What the builder and config asked for, counts of 0 raised to 1 (sane_value).
  RequestResponseLimits requested;
  StoredLimits limits;
  ProcessIdentity self;
  /// The builder's requirement its own attributes do not meet: it does not create the service.
  std::optional<std::string> unmet_by_own_attributes;
  /// Where payloads start: the builder's alignment or the type's, whichever is larger.
  std::uint64_t request_payload_alignment, response_payload_alignment;
  /// The most elements of a floe::Slice payload the builder asked for (a count of 0 raised to
  /// 1); 0 when it did not ask (a fixed payload always).
  std::uint64_t request_max_slice_len, response_max_slice_len;
  /// The opening node's name, written into its node record for tools.
  std::string_view node_name;

  const std::string& name() const noexcept { return spec.name; }
  /// How log events name the service.
  std::string log_name() const { return service_in_domain(name(), domain_of_object(object_name)); }
};

namespace {

/// What to do about an open() of a service that is not there: the caller may be its creator,
/// or may have started before its creator.
constexpr const char* kCreateOrWait =
    "create it (create() or open_or_create()), or wait until its creator has "
    "(Node::service_exists() tells)";

StoredType stored_type(const TypeInfo& type, const char* role) {
  if (type.name.size() > kMaxTypeNameLength) {
    throw Error(Errc::invalid_name, std::string("floe: the ") + role +
                                        " type name is longer than 255 bytes; give the type "
                                        "a floe_type_name");
  }
  StoredType stored{};
  std::memcpy(stored.name, type.name.data(), type.name.size());
  stored.size = type.size;
  stored.alignment = type.alignment;
  return stored;
}

bool same_type(const StoredType& a, const StoredType& b) {
  return std::strncmp(a.name, b.name, sizeof a.name) == 0 && a.size == b.size &&
         a.alignment == b.alignment;
}

/// "Sample (size 16, alignment 8)", "floe::Slice<Sample> (element size 16, alignment 8)".
std::string describe(const StoredType& t, bool slice) {
  if (t.size == 0) return "none";
  return recorded_type_name(t, slice) + (slice ? " (element size " : " (size ") +
         std::to_string(t.size) + ", alignment " + std::to_string(t.alignment) + ")";
}

void check_types(const ServiceHeader& h, const WantedService& w) {
  struct Side {
    const StoredType* have;
    bool have_slice;
    const StoredType* want;
    bool want_slice;
  };
  const Side sides[] = {
      {&h.request, h.request_max_slice_len != 0, &w.request, w.spec.request.slice},
      {&h.response, h.response_max_slice_len != 0, &w.response, w.spec.response.slice},
      {&h.request_user_header, false, &w.request_user_header, false},
      {&h.response_user_header, false, &w.response_user_header, false}};
  const char* roles[] = {"request", "response", "request user header", "response user header"};
  for (int i = 0; i < 4; ++i) {
    const Side& side = sides[i];
    if (!same_type(*side.have, *side.want) || side.have_slice != side.want_slice) {
      throw Error(Errc::incompatible_types, "floe: service '" + w.name() + "' has " + roles[i] +
                                                " type " + describe(*side.have, side.have_slice) +
                                                ", not " + describe(*side.want, side.want_slice) +
                                                "; every process must use the same types (name, "
                                                "size and alignment: give a type the same "
                                                "floe_type_name in each), or create the service "
                                                "anew once every process has closed it");
    }
  }
}

/// The alignment payloads of `type` start at: what the builder asked for, at least the type's.
std::uint64_t payload_alignment(const std::optional<std::uint64_t>& asked, const TypeInfo& type,
                                const char* role, const std::string& service) {
  if (!asked) return type.alignment;
  if (*asked == 0 || (*asked & (*asked - 1)) != 0 || *asked > 4096) {
    throw Error(Errc::invalid_config, "floe: service '" + service + "': " + role +
                                          "_payload_alignment(" + std::to_string(*asked) +
                                          ") is not a power of two up to 4096");
  }
  return std::max<std::uint64_t>(*asked, type.alignment);
}

/// The max slice length the builder gave for `type` (request_max_slice_len /
/// response_max_slice_len, 0 raised to 1), checked against what one payload may hold; 0 when
/// it gave none.
std::uint64_t max_slice_len(const std::optional<std::uint64_t>& asked, const TypeInfo& type,
                            const char* role, const std::string& service) {
  if (!asked) return 0;
  const std::string setter = std::string(role) + "_max_slice_len(" + std::to_string(*asked) + ")";
  if (!type.slice) {
    throw Error(Errc::incompatible_limits, "floe: service '" + service + "': " + setter +
                                               " is given, but its " + role +
                                               " payload is not a floe::Slice");
  }
  const std::uint64_t n = std::max<std::uint64_t>(*asked, 1);
  const std::uint64_t most =
      std::min(kMaxSliceLen, (std::uint64_t{1} << 32) / std::max<std::uint64_t>(type.size, 1));
  if (n > most) {
    throw Error(Errc::incompatible_limits,
                "floe: service '" + service + "': " + setter + " is too large: a " + role +
                    " slice may hold at most " + std::to_string(kMaxSliceLen) +
                    " elements and 4 GiB (here " + std::to_string(most) + " elements of " +
                    std::to_string(type.size) + " bytes)");
  }
  return n;
}

/// An opener's max slice length must not exceed the service's: its chunks have no room for more.
void check_max_slice_lens(const ServiceHeader& h, const WantedService& w) {
  const std::uint64_t have[] = {h.request_max_slice_len, h.response_max_slice_len};
  const std::uint64_t want[] = {w.request_max_slice_len, w.response_max_slice_len};
  const char* roles[] = {"request", "response"};
  for (int i = 0; i < 2; ++i) {
    if (want[i] > have[i]) {
      throw Error(Errc::incompatible_limits,
                  "floe: service '" + w.name() + "' was created with " + roles[i] +
                      "_max_slice_len = " + std::to_string(have[i]) +
                      ", which does not satisfy the requested " + std::to_string(want[i]) +
                      "; ask for at most that, or create the service anew once every process "
                      "has closed it");
    }
  }
}

/// Whether every slice side of `wanted` has its max length: only then can it be created.
bool max_slice_lens_given(const WantedService& wanted) noexcept {
  return (!wanted.spec.request.slice || wanted.request_max_slice_len != 0) &&
         (!wanted.spec.response.slice || wanted.response_max_slice_len != 0);
}

/// A slice service is created only with its max lengths: they size every chunk.
void check_max_slice_lens_given(const WantedService& wanted) {
  const std::pair<const TypeInfo*, std::uint64_t> sides[] = {
      {&wanted.spec.request, wanted.request_max_slice_len},
      {&wanted.spec.response, wanted.response_max_slice_len}};
  const char* roles[] = {"request", "response"};
  for (int i = 0; i < 2; ++i) {
    if (sides[i].first->slice && sides[i].second == 0) {
      throw Error(Errc::incompatible_limits,
                  "floe: service '" + wanted.name() + "': a service whose " + roles[i] +
                      " payload is floe::Slice<" + std::string(sides[i].first->name) + "> needs " +
                      roles[i] + "_max_slice_len(n) when it is created (the most elements one " +
                      roles[i] + " may hold: every chunk has room for that many)");
    }
  }
}

/// An existing service's payloads must start at least as aligned as the opener asks.
void check_payload_alignments(const ServiceHeader& h, const WantedService& w) {
  const std::uint64_t have[] = {h.request_payload_alignment, h.response_payload_alignment};
  const std::uint64_t want[] = {w.request_payload_alignment, w.response_payload_alignment};
  const char* roles[] = {"request", "response"};
  for (int i = 0; i < 2; ++i) {
    if (have[i] < want[i]) {
      throw Error(Errc::incompatible_types,
                  "floe: service '" + w.name() + "' aligns " + roles[i] + " payloads to " +
                      std::to_string(have[i]) + " bytes, less than the " + std::to_string(want[i]) +
                      " asked for (" + roles[i] +
                      "_payload_alignment): open it asking for at most " + std::to_string(have[i]));
    }
  }
}

/// "'camera' = 'front', 'resolution' = '1920x1080'", or "none": a service's attributes, for
/// messages.
std::string describe(const AttributeSet& attributes) {
  std::string text;
  for (const Attribute& attribute : attributes) {
    text += (text.empty() ? "'" : ", '") + attribute.key + "' = '" + attribute.value + "'";
  }
  return text.empty() ? "none" : text;
}

/// Throws Errc::incompatible_attributes unless the service's attributes meet what the builder
/// requires.
void check_attributes(const AttributeSet& attributes, const WantedService& wanted) {
  if (auto unmet = wanted.spec.required_attributes.unmet_requirement(attributes)) {
    throw Error(Errc::incompatible_attributes, "floe: service '" + wanted.name() + "': " + *unmet +
                                                   " (its attributes: " + describe(attributes) +
                                                   ")");
  }
}

/// A service is never created with attributes that fail the requirements of its own builder.
[[noreturn]] void throw_unmet_by_own_attributes(const WantedService& wanted) {
  throw Error(Errc::incompatible_attributes,
              "floe: service '" + wanted.name() +
                  "' is not created: its attributes() do not meet its required_attributes(): " +
                  *wanted.unmet_by_own_attributes +
                  " (attributes(): " + describe(wanted.spec.attributes.attributes()) + ")");
}

/// Whether this open may join an existing service: not when it is to create one, and only with
/// the same types, payloads aligned at least as asked, limits that satisfy what was asked for
/// and attributes that meet what is required.
void check_joinable(const ServiceHeader& header, const AttributeSet& attributes,
                    const WantedService& wanted) {
  if (wanted.mode == OpenMode::create) {
    throw Error(Errc::service_already_exists,
                "floe: service '" + wanted.name() +
                    "' already exists; open it instead (open() or open_or_create())");
  }
  check_types(header, wanted);
  check_payload_alignments(header, wanted);
  check_max_slice_lens(header, wanted);
  check_satisfies(header.limits, wanted.requested, wanted.spec.explicitly_set, wanted.name());
  check_attributes(attributes, wanted);
}

/// Checks the builder's request; the limits' ranges are checked where they are used: all of them
/// for a service that may be created, only those asked for when opening one.
WantedService wanted_service(const NodeState& node, const ServiceSpec& spec, OpenMode mode) {
  check_service_name(spec.name);
  check_domain(node.config.domain);
  RequestResponseLimits requested = spec.limits;
  for (const LimitInfo& limit : kLimits) {
    set_limit_value(
        requested, limit.id,
        static_cast<std::uint32_t>(sane_value(limit, limit_value(requested, limit.id))));
  }
  check_ranges(requested, mode == OpenMode::open ? spec.explicitly_set : kAllLimits, spec.name);
  return WantedService{
      spec,
      mode,
      node.config.group_access,
      service_object_name(node.config.domain, spec.name),
      stored_type(spec.request, "request"),
      stored_type(spec.response, "response"),
      stored_type(spec.request_user_header, "request user header"),
      stored_type(spec.response_user_header, "response user header"),
      requested,
      to_stored(requested),
      current_process(),
      spec.required_attributes.unmet_requirement(spec.attributes.attributes()),
      payload_alignment(spec.request_payload_alignment, spec.request, "request", spec.name),
      payload_alignment(spec.response_payload_alignment, spec.response, "response", spec.name),
      max_slice_len(spec.request_max_slice_len, spec.request, "request", spec.name),
      max_slice_len(spec.response_max_slice_len, spec.response, "response", spec.name),
      node.name};
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
std::optional<SharedMemoryObject> open_service_object(const WantedService& wanted) {
  try {
    return SharedMemoryObject::open_existing(wanted.object_name, wanted.group_access);
  } catch (const Error& e) {
    throw Error(e.code(), "floe: service '" + wanted.name() + "': " + cause_of(e));
  }
}

/// Takes a free node record and its liveness mark. A record whose mark another process still
/// holds is skipped: its owner is leaving right now.
std::uint32_t claim_node_record(const SegmentView& segment, const WantedService& wanted, int fd) {
  const ProcessIdentity& self = wanted.self;
  for (std::uint32_t n = 0; n < segment.limits().max_nodes; ++n) {
    NodeRecord* record = segment.node(n);
    if (load(record->state) != static_cast<std::uint32_t>(SlotState::free)) continue;
    if (!hold_liveness_mark(fd, n)) continue;
    store(record->pid, self.pid);
    store(record->start_time, self.start_time);
    store_node_name(*record, wanted.node_name);
    store(record->state, static_cast<std::uint32_t>(SlotState::active));
    return n;
  }
  return ServiceSegment::kNoNode;
}

/// Writes a new segment's header and the records that do not start as zeros.
void initialize(const SegmentView& segment, const WantedService& wanted) {
  const SegmentLayout& layout = segment.layout();
  ServiceHeader* header = segment.header();
  header->magic = kSegmentMagic;
  header->layout_version = kLayoutVersion;
  header->segment_size = layout.total_size();
  header->name_length = static_cast<std::uint32_t>(wanted.name().size());
  std::memcpy(header->name, wanted.name().data(), wanted.name().size());
  header->request = wanted.request;
  header->response = wanted.response;
  header->request_user_header = wanted.request_user_header;
  header->response_user_header = wanted.response_user_header;
  header->limits = wanted.limits;
  header->request_payload_alignment = wanted.request_payload_alignment;
  header->response_payload_alignment = wanted.response_payload_alignment;
  header->attributes = to_stored(wanted.spec.attributes.attributes());
  header->request_max_slice_len = wanted.request_max_slice_len;
  header->response_max_slice_len = wanted.response_max_slice_len;
  for (std::uint32_t c = 0; c < wanted.limits.max_clients; ++c) {
    for (std::uint32_t k = 0; k < wanted.limits.max_active_requests_per_client; ++k) {
      segment.client_channel(c, k)->chunk = kNoChunk;
    }
    store(segment.client(c)->next_request_id, std::uint64_t{1});
  }
}

/// Removes a damaged or stale segment, under its lock, so that the name is free again. Damaged:
/// removed at once, even while processes hold it (they get Errc::corrupted, at the latest at
/// their next liveness check), so the service is usable again without anyone's help. Stale:
/// nobody holds it any more (every mark went with its process). Opening only, it then reports
/// that the service does not exist.
void remove_unusable(const SharedMemoryObject& object, const SegmentRead& read,
                     const struct stat& status, const WantedService& wanted) {
  const bool damaged = read.judgement.verdict == HeaderVerdict::damaged;
  int error = 0;
  if (remove_object_locked(object, read.mapping, &error) == SharedMemoryObject::Unlinked::failed) {
    throw Error(Errc::permission_denied,
                "floe: service '" + wanted.name() + "': its segment " + kShmDirectory +
                    wanted.object_name + " is " +
                    (damaged ? "damaged" : "stale (every process that used it died)") +
                    ", but this process cannot remove it: " + std::strerror(error) + " (" +
                    describe_owner(status) + "; in sticky " + kShmDirectory +
                    " only its owner or root may remove it). Have its owner run `floe clean`");
  }
  log(damaged ? LogLevel::error : LogLevel::info, [&] {
    return wanted.log_name() + " removed at open by pid " + std::to_string(wanted.self.pid) +
           ": its segment " + kShmDirectory + wanted.object_name + " was " +
           (damaged ? "damaged: it " + read.judgement.problem
                    : std::string("stale: every process that used it died"));
  });
  if (wanted.mode == OpenMode::open) {
    throw Error(Errc::service_does_not_exist,
                "floe: service '" + wanted.name() + "' does not exist (" +
                    (damaged ? "a damaged segment was removed: it " + read.judgement.problem
                             : std::string("a stale segment of dead processes was removed")) +
                    "); " + kCreateOrWait);
  }
}

}  // namespace

std::shared_ptr<ServiceSegment> ServiceSegment::open(const NodeState& node, const ServiceSpec& spec,
                                                     OpenMode mode) {
  const WantedService wanted = wanted_service(node, spec, mode);
  if (mode == OpenMode::create && wanted.unmet_by_own_attributes) {
    throw_unmet_by_own_attributes(wanted);
  }
  OpenServices& open_services = *node.open_services;
  if (wanted.self.pid != open_services.process) return open_anew(wanted);
  // Declared before the lock: if it is the last handle, its release takes the lock.
  std::shared_ptr<ServiceSegment> held;
  std::unique_lock<std::mutex> lock(open_services.mutex);
  for (;;) {
    const auto found = open_services.by_object.find(wanted.object_name);
    if (found == open_services.by_object.end()) break;
    held = found->second.segment.lock();
    if (held != nullptr) break;
    // Its last handle is going right now, and with it the node's record: wait for that.
    open_services.released.wait(lock);
  }
  if (held != nullptr && held->is_still_published()) {
    held->rejoin(wanted);
    return held;
  }
  return handed_out(open_anew(wanted), node.open_services, wanted.object_name);
}

std::shared_ptr<ServiceSegment> ServiceSegment::open_anew(const WantedService& wanted) {
  // An opener may leave a slice service's max lengths out (the service has them): then
  // open_or_create only opens, and says what creating it needs when there is nothing to open.
  const bool may_create = wanted.mode != OpenMode::open && !wanted.unmet_by_own_attributes;
  for (int attempt = 0; attempt < 64; ++attempt) {
    // open_or_create then only opens (open_existing throws if there is nothing to open).
    if (may_create && max_slice_lens_given(wanted)) {
      if (auto created = create_new(wanted)) return created;
    }
    if (auto opened = open_existing(wanted)) return opened;
    if (may_create) check_max_slice_lens_given(wanted);
  }
  throw Error(Errc::corrupted,
              "floe: service '" + wanted.name() + "' kept changing while it was being opened");
}

std::shared_ptr<ServiceSegment> ServiceSegment::create_new(const WantedService& wanted) {
  check_max_slice_lens_given(wanted);
  auto layout =
      SegmentLayout::compute(wanted.limits, wanted.request, wanted.response,
                             wanted.request_user_header, wanted.response_user_header,
                             wanted.request_payload_alignment, wanted.response_payload_alignment,
                             wanted.request_max_slice_len, wanted.response_max_slice_len);
  if (!layout) {
    // The limits are in range (wanted_service): their product, or a type, is too large.
    throw Error(Errc::incompatible_limits,
                "floe: service '" + wanted.name() +
                    "' cannot be laid out: its segment would be larger than 64 GiB, or a type "
                    "is larger than 4 GiB or aligned to more than 4096 bytes");
  }
  check_room_for(wanted.name(), *layout);
  // The segment is built as an object without a name and published with link(2), which fails
  // if the name exists: nobody can ever open a half-initialized service, and a creator that
  // dies before publishing leaves nothing behind.
  std::optional<SharedMemoryObject> object;
  Mapping mapping;
  const char* doing = "create";
  try {
    object = SharedMemoryObject::create_unnamed(wanted.group_access ? 0660 : 0600);
    // Marked alive before it has a name: once published, nobody can take it for stale.
    hold_liveness_mark(object->fd(), 0);
    crash_point("create.unnamed");
    doing = "reserve";
    object->reserve(layout->total_size());
    doing = "map";
    mapping = Mapping(object->fd(), layout->total_size());
  } catch (const Error& e) {
    throw_for_service(e, wanted.name(), doing, layout->total_size(), &*layout);
  }
  const SegmentView created(mapping.data(), *layout);
  initialize(created, wanted);
  const std::uint32_t node_index = claim_node_record(created, wanted, object->fd());
  store(created.header()->state, static_cast<std::uint32_t>(SegmentState::ready));
  crash_point("create.initialized");

  try {
    if (!object->publish_as(wanted.object_name)) return nullptr;  // someone else's came first
  } catch (const Error& e) {
    throw Error(e.code(), "floe: service '" + wanted.name() +
                              "': cannot publish its segment: " + cause_of(e));
  }
  crash_point("create.published");
  log(LogLevel::info, [&] {
    return wanted.log_name() + " created by pid " + std::to_string(wanted.self.pid) + " (" +
           human_size(layout->total_size()) + " at " + kShmDirectory + wanted.object_name + ")";
  });
  return std::make_shared<ServiceSegment>(Passkey{}, std::move(*object), std::move(mapping),
                                          *layout, wanted.name(),
                                          wanted.spec.attributes.attributes(), node_index);
}

std::shared_ptr<ServiceSegment> ServiceSegment::open_existing(const WantedService& wanted) {
  auto object = open_service_object(wanted);
  if (!object) {
    if (wanted.mode == OpenMode::open) {
      throw Error(Errc::service_does_not_exist,
                  "floe: service '" + wanted.name() + "' does not exist; " + kCreateOrWait);
    }
    if (wanted.unmet_by_own_attributes) throw_unmet_by_own_attributes(wanted);
    return nullptr;
  }
  // The flock alone: the descriptor was just opened and is no one else's, so flock separates
  // this open from every other, other threads' included.
  ExclusiveLock lock(object->fd());
  crash_point("open.locked");
  const struct stat status = object->status();
  SegmentRead read;
  try {
    read = read_segment(*object, status);
  } catch (const Error& e) {
    throw_for_service(e, wanted.name(), "map", static_cast<std::uint64_t>(status.st_size), nullptr);
  }
  // Removed by the process that held the lock before: the name names something else by now, so
  // look again. Still named, the word lies (written over): the judgement calls it damaged.
  if (read.mapping.data() != nullptr &&
      read.header.state == static_cast<std::uint32_t>(SegmentState::removed) &&
      !object->is_still_named()) {
    return nullptr;
  }
  const HeaderJudgement& judgement = read.judgement;
  // An object of another floe version, or not floe's at all, is neither damaged nor stale: its
  // processes do not mark themselves, and it is left alone.
  if (judgement.verdict == HeaderVerdict::damaged ||
      (judgement.sound() && !is_segment_held(*object))) {
    remove_unusable(*object, read, status, wanted);
    return nullptr;
  }
  if (!judgement.sound()) {
    throw Error(Errc::corrupted, "floe: service '" + wanted.name() + "': " + kShmDirectory +
                                     wanted.object_name + " " + judgement.problem +
                                     "; floe leaves it alone");
  }
  const ServiceHeader& header = read.header;
  if (header.name_length != wanted.name().size() ||
      std::memcmp(header.name, wanted.name().data(), wanted.name().size()) != 0) {
    throw Error(Errc::corrupted, "floe: " + wanted.object_name + " holds another service");
  }
  auto segment = std::make_shared<ServiceSegment>(
      Passkey{}, std::move(*object), std::move(read.mapping), *judgement.layout, wanted.name(),
      attributes_of(header.attributes), kNoNode);
  segment->join(header, wanted);
  return segment;
}

void ServiceSegment::join(const ServiceHeader& header, const WantedService& wanted) {
  reclaim_dead_nodes_locked("opening the service");
  check_joinable(header, attributes_, wanted);
  node_index_ = claim_node_record(view_, wanted, object_.fd());
  crash_point("open.claimed");
  if (node_index_ == kNoNode) {
    throw Error(Errc::exceeds_max_nodes,
                limit_reached_message("service '" + wanted.name() + "'", LimitId::max_nodes,
                                      header.limits.max_nodes, "nodes holding it open",
                                      "close it in another node first"));
  }
  log(LogLevel::info, [&] {
    return wanted.log_name() + " opened by pid " + std::to_string(wanted.self.pid) + " as node " +
           std::to_string(node_index_);
  });
}

namespace {

/// The release of a node's last handle of a segment: the segment goes (its node record with it)
/// and then its entry, under the node's lock.
struct ReleaseLastHandle {
  std::shared_ptr<ServiceSegment> segment;
  std::shared_ptr<OpenServices> open_services;
  std::string object_name;

  void operator()(ServiceSegment*) {
    std::lock_guard<std::mutex> lock(open_services->mutex);
    const ServiceSegment* address = segment.get();
    segment.reset();
    const auto found = open_services->by_object.find(object_name);
    // Only its own entry: a newer segment's (the name was given to another) stays.
    if (found != open_services->by_object.end() && found->second.address == address) {
      open_services->by_object.erase(found);
    }
    open_services->released.notify_all();
  }
};

}  // namespace

std::shared_ptr<ServiceSegment> ServiceSegment::handed_out(
    std::shared_ptr<ServiceSegment> segment, std::shared_ptr<OpenServices> open_services,
    const std::string& object_name) {
  ServiceSegment* address = segment.get();
  std::shared_ptr<ServiceSegment> handle(
      address, ReleaseLastHandle{std::move(segment), open_services, object_name});
  open_services->by_object[object_name] = OpenServices::Entry{handle, address};
  return handle;
}

bool ServiceSegment::is_still_published() noexcept {
  // A segment removed (its last other holder left, a damaged one replaced) or unlinked by hand
  // and created anew under the name is not the service the name stands for any more.
  check_size();
  if (mapping_.damaged()) return false;
  if (load(view_.header()->state) != static_cast<std::uint32_t>(SegmentState::ready)) return false;
  return object_.is_still_named();
}

void ServiceSegment::rejoin(const WantedService& wanted) {
  Lock lock(*this);
  reclaim_dead_nodes_locked("opening the service again");
  ServiceHeader header;
  std::memcpy(&header, view_.header(), sizeof header);  // another process may write it
  // The layout this process computed at open, not what the bytes say now.
  header.limits = limits();
  check_joinable(header, attributes_, wanted);
  log(LogLevel::debug, [&] {
    return wanted.log_name() + " opened again by pid " + std::to_string(wanted.self.pid) +
           ", whose node holds it already (as node " + std::to_string(node_index_) + ")";
  });
}

}  // namespace floe::detail
