#pragma once
// What a service's shared memory holds right now: for tools, tests and monitoring.

#include <cstdint>
#include <string>
#include <vector>

#include "floe/limits.hpp"

namespace floe {

/// Counts read from a service's shared memory at one moment (Service::usage()).
struct ServiceUsage {
  std::uint64_t request_chunks = 0;          ///< every request chunk of every client slot
  std::uint64_t request_chunks_in_use = 0;   ///< loaned, or bound to a request someone holds
  std::uint64_t response_chunks = 0;         ///< every response chunk of every channel
  std::uint64_t response_chunks_in_use = 0;  ///< loaned, queued or borrowed
  std::uint32_t nodes = 0;                   ///< one per Node holding it (dead: until reclaimed)
  std::uint32_t clients = 0;                 ///< client ports open now
  std::uint32_t servers = 0;                 ///< server ports open now
  std::uint64_t segment_size = 0;            ///< bytes of the shared-memory segment
  /// Data segments of its slice-writing ports that grew beyond the service's max slice length
  /// (each its own /dev/shm object; see AllocationStrategy).
  std::uint32_t data_segments = 0;
  std::uint64_t data_segment_bytes = 0;  ///< bytes of those data segments together
};

/// One node holding a service open (ServiceInfo::nodes), read from its node record.
struct NodeInfo {
  /// As given to Node::create, written by the node's process: up to 255 bytes, and any bytes
  /// (control characters, invalid UTF-8), so escape it before printing it.
  std::string name;
  std::uint64_t pid = 0;      ///< the node's process id
  bool alive = false;         ///< its process still runs; a dead one's record waits to be reclaimed
  std::uint32_t clients = 0;  ///< client ports of this node open in the service
  std::uint32_t servers = 0;  ///< server ports of this node open in the service
};

/// What a service's object in /dev/shm is, as Node::list_services() judges it.
enum class ServiceState : std::uint8_t {
  live,          ///< a live process holds it open: open() joins it
  stale,         ///< nobody alive holds it (what crashed processes left): open() removes it
  damaged,       ///< written over or shrunk: open() and create() replace it
  inaccessible,  ///< not read: another user's, another floe version's, or not floe's at all
};

/// One service of a node's domain, read from its shared memory without joining it
/// (Node::list_services()). Types, limits and counts are filled in only when `state` is live or
/// stale.
struct ServiceInfo {
  std::string name;    ///< as given to Node::service_builder
  std::string object;  ///< its shared-memory object, "/floe.<domain>.<hash>"
  ServiceState state = ServiceState::inaccessible;  ///< whether it can be joined
  std::string problem;                              ///< why it is damaged or inaccessible
  std::string owner;          ///< the object's owner, group and mode, for people
  std::string request_type;   ///< the request payload's type name ("floe::Slice<T>" for a slice)
  std::string response_type;  ///< the response payload's type name ("floe::Slice<T>" for a slice)
  std::uint64_t request_max_slice_len = 0;   ///< most elements of a request slice; 0: fixed type
  std::uint64_t response_max_slice_len = 0;  ///< most elements of a response slice; 0: fixed type
  std::string request_user_header_type;      ///< "" when requests carry no user header
  std::string response_user_header_type;     ///< "" when responses carry no user header
  RequestResponseLimits limits;              ///< the limits it was created with
  std::uint32_t live_nodes = 0;              ///< nodes whose process still runs
  std::uint32_t dead_nodes = 0;              ///< nodes whose process is gone, not reclaimed yet
  std::vector<NodeInfo> nodes;               ///< every node record in use, live and dead
  ServiceUsage usage;                        ///< its ports, chunks and size
};

/// What Node::clean_up_dead_nodes() reclaimed across the node's domain.
struct DeadNodeCleanup {
  std::uint32_t nodes = 0;             ///< node records of processes that are gone
  std::uint32_t ports = 0;             ///< their clients and servers: the slots are free again
  std::uint32_t removed_services = 0;  ///< services no live process held any more, removed
  /// Data segments removed: of the dead ports, and those left of services that no longer exist.
  std::uint32_t removed_data_segments = 0;
};

}  // namespace floe
