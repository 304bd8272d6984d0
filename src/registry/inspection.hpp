#pragma once
// Looking at services from outside, without joining them: what the `floe` tool lists, inspects
// and cleans. Nothing here registers a node, so looking never keeps a stale service alive.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "floe/introspection.hpp"
#include "segment/layout.hpp"

namespace floe::detail {

struct NodeReport {
  std::uint32_t index = 0;
  std::string name;  // the record's bytes, bounded: escape before printing
  std::uint64_t pid = 0;
  bool alive = false;
  std::uint32_t clients = 0, servers = 0;
};

/// How full a bounded queue is: `used` of `capacity` entries (a peer's garbage is clamped).
struct QueueFill {
  std::uint32_t used = 0;
  std::uint32_t capacity = 0;
};

/// A request a server has open for a client, and the response queue it fills.
struct ResponseChannelReport {
  std::uint32_t server = 0, client = 0, channel = 0;
  QueueFill responses;  // of max_response_buffer_size
  /// The queue is full and the server found it so on its last send (its producer_waiting flag):
  /// it waits for room (Backpressure::block), or was refused: the client is slow.
  bool server_blocked = false;
};

struct PortReport {
  bool server = false;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::uint32_t node = 0;  // index of the owning node record; max_nodes when out of range
  std::string node_name;   // of the owning node
  std::uint64_t pid = 0;   // of the owning node
  bool alive = false;
  // Clients: requests queued to each server slot (of max_active_requests_per_client), and the
  // requests whose PendingResponse still exists.
  std::vector<QueueFill> queued_to_server;
  std::uint32_t active_requests = 0;
  // The data segments this port life wrote slices into (from /dev/shm), the newest's number and
  // its max slice length (0 when its header does not validate against its size and the service).
  std::uint32_t data_segments = 0;
  std::uint64_t data_segment_bytes = 0;
  std::uint32_t newest_data_segment = 0;
  std::uint64_t newest_max_slice_len = 0;
};

struct SegmentReport {
  std::string object;  // "/floe.<domain>.<hash>"
  std::string domain;
  bool exists = false;    // something is at the name
  std::string owner;      // "uid 1001 (alice), group 1001 (alice), mode 0600"
  bool refused = false;   // floe refuses to join it (another user's, say): problem says why
  bool readable = false;  // could be opened and mapped at all
  bool valid = false;     // a floe service of this layout version, consistent
  bool held = true;       // a live process holds its liveness mark (in doubt: yes)
  // This floe version's object, consistent or damaged: its marks say whether anyone still uses
  // it. Another version's object, one not floe's, or one floe refuses, is not judged.
  bool judged_by_marks = false;
  std::string problem;  // why not, when not
  std::string service;
  StoredType request{}, response{}, request_user_header{}, response_user_header{};
  StoredLimits limits{};
  std::uint64_t request_payload_alignment = 0, response_payload_alignment = 0;
  std::uint64_t request_max_slice_len = 0, response_max_slice_len = 0;  // 0: a fixed payload
  AttributeSet attributes;
  std::vector<NodeReport> nodes;                         // active node records
  std::vector<PortReport> ports;                         // active port slots
  std::vector<ResponseChannelReport> response_channels;  // of active servers, with a request open
  ServiceUsage usage;

  /// Nobody alive uses it: what is left of crashed processes, damaged or not.
  bool stale() const noexcept;
};

/// The floe objects in /dev/shm: of one domain, or of every domain when `domain` is empty.
std::vector<std::string> list_objects(const std::string& domain);

/// What is at the name. An object floe would refuse to join (see refusal_to_join; with
/// `group_access` as a process of that configuration) is reported with its owner and not read;
/// one whose size cannot be a floe segment's (sparse, or larger than /dev/shm) is not read
/// either, so looking never makes tmpfs allocate pages.
SegmentReport inspect_object(const std::string& object, bool group_access = false);

struct Removal {
  enum Outcome { removed, kept, failed } outcome = kept;
  std::string reason;  // why kept or failed
};

/// Removes the object if no live process uses it, deciding under the service's lock (as
/// opening processes do) about the object locked, and unlinking the name only if it still
/// names that object. `remover` says for the log who removed it.
Removal remove_if_unused(const std::string& object, bool group_access = false,
                         std::string_view remover = "floe clean");

/// The report as the public API tells it.
ServiceInfo service_info_of(const SegmentReport& report);

/// Every service object of the domain, judged one by one: one that cannot be read is listed
/// as such, never a reason to throw for the whole list.
std::vector<ServiceInfo> list_services(const std::string& domain, bool group_access);

/// Whether a live service has the name in the domain (a stale or damaged one does not count:
/// open() would remove it).
bool service_exists(const std::string& domain, const std::string& service, bool group_access);

/// The data segments of the domain (every domain's when `domain` is empty) whose service object
/// no longer exists: what a crash during a service's removal leaves.
std::vector<std::string> orphaned_data_segments(const std::string& domain);

/// Unlinks the data segment if its service object still does not exist and its name still names
/// the object looked at (a new service's port may have taken the name meanwhile).
Removal remove_orphaned_data_segment(const std::string& object);

/// Reclaims the records and ports of dead nodes in every service of the domain, and removes
/// the services no live process holds any more, and orphaned data segments. Objects it may not
/// read are skipped.
DeadNodeCleanup clean_up_dead_nodes(const std::string& domain, bool group_access);

}  // namespace floe::detail
