#pragma once
// One request-response service's shared-memory segment, as one process holds it open.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "floe/detail/service_spec.hpp"
#include "floe/introspection.hpp"
#include "platform/process.hpp"
#include "platform/shared_memory.hpp"
#include "registry/names.hpp"
#include "segment/layout.hpp"
#include "segment/view.hpp"

namespace floe::detail {

struct WantedService;

/// The services one node holds open, by shared-memory object name. Its mutex is held for a whole
/// open, so threads opening one service from one node take one node record between them, and
/// for the release of a service's last handle, so an open never finds the node's record still
/// taken by a handle on its way out. Taken before a segment's lock, never under one.
struct OpenServices {
  struct Entry {
    std::weak_ptr<ServiceSegment> segment;
    const ServiceSegment* address;  // which segment the entry is, once `segment` has expired
  };
  std::mutex mutex;
  std::condition_variable released;  // a segment's last handle went and its entry with it
  std::unordered_map<std::string, Entry> by_object;
  /// The process the node was made in. A child forked with it is a process of its own and
  /// takes records of its own, or its ports would outlive it as its parent's.
  std::uint64_t process = current_process().pid;
};

class ServiceSegment {
  /// Only open() makes segments; the key lets it use std::make_shared.
  class Passkey {
    friend class ServiceSegment;
    Passkey() = default;
  };

 public:
  /// The node index of a segment this process has not (yet) registered in.
  static constexpr std::uint32_t kNoNode = 0xffffffffu;

  /// Creates or opens the service, registers this node in it, and removes what dead processes
  /// left behind; or, if the node holds the service open already, checks the request as an
  /// open does and hands out the same segment. Throws floe::Error. (segment_open.cpp)
  static std::shared_ptr<ServiceSegment> open(const NodeState& node, const ServiceSpec& spec,
                                              OpenMode mode);

  ServiceSegment(const ServiceSegment&) = delete;
  ServiceSegment& operator=(const ServiceSegment&) = delete;
  /// Deregisters this node; the last node to go removes the segment.
  ~ServiceSegment();

  /// The mapping bound to the layout: what ports resolve their pointers from.
  const SegmentView& view() const noexcept { return view_; }
  const SegmentLayout& layout() const noexcept { return view_.layout(); }
  const StoredLimits& limits() const noexcept { return view_.limits(); }
  const std::string& service_name() const noexcept { return service_name_; }
  /// The segment's object name ("/floe.<domain>.<hash>"): what data segment names start from.
  const std::string& object_name() const noexcept { return object_.name(); }
  /// Whether the segment is shared with its group (mode 0660, group_access), as the data
  /// segments of its ports must be too. One fstat: cold paths only.
  bool shared_with_group() const noexcept;
  /// As the header held them when this process created or opened the service: the header is
  /// read once, so a writer cannot change them under a caller.
  const AttributeSet& attributes() const noexcept { return attributes_; }

  /// Port slots; throw Errc::exceeds_max_clients / exceeds_max_servers when all are taken by
  /// live processes.
  std::uint32_t claim_client_slot();
  std::uint32_t claim_server_slot();
  void release_client_slot(std::uint32_t client) noexcept;
  void release_server_slot(std::uint32_t server) noexcept;
  /// Wakes every client asleep on its doorbell: a server came or went.
  void ring_every_client() const noexcept;

  /// Whether the process that owns a port slot still runs. A syscall or two: not for hot paths.
  bool is_port_owner_alive(const PortRecord& port) const noexcept;
  /// The process that holds the port, as its node record says (it may have died since).
  std::optional<ProcessIdentity> port_owner(const PortRecord& port) const noexcept;

  /// Reclaims the ports of every node whose process is gone.
  void reclaim_dead_nodes() noexcept;
  /// Does that for the service at `object` without joining it, then removes the service if no
  /// live process holds it any more (as its last node leaving would have). Nothing for an object
  /// that is not a sound segment of this floe version. Throws floe::Error when the object
  /// cannot be opened (another user's, say) or mapped.
  static DeadNodeCleanup clean_up_dead_nodes_of(const std::string& object, bool group_access);

  ServiceUsage usage() const noexcept;

  /// "service 'My/Funk' (domain default)": how log events name this service.
  std::string log_name() const;

  /// Set once another process shrank the segment under an access of this one (a SIGBUS caught
  /// by the mapping's guard): the mapping now holds private zeros. Ports look at it first.
  const std::atomic<bool>& damaged_flag() const noexcept { return *mapping_.damaged_flag(); }
  /// Throws the Errc::corrupted that says so.
  [[noreturn]] void throw_damaged() const;
  /// Its text: which service, which object, what to do.
  std::string damage_message() const;
  /// Looks whether the object was shrunk even where this process has not touched it yet (one
  /// fstat): sets the damaged flag if so. Where liveness is looked at, never on the hot path.
  void check_size() noexcept;

  ServiceSegment(Passkey, SharedMemoryObject object, Mapping mapping, SegmentLayout layout,
                 std::string service_name, AttributeSet attributes, std::uint32_t node_index);

 private:
  /// The segment lock, taken for every change to node and port slots: this process's mutex
  /// first, then flock(2) on the object. The flock separates processes (and separate opens of
  /// the object), but not threads sharing this ServiceSegment's descriptor, which hold it
  /// together; the mutex separates those (two threads creating ports from one Service).
  class Lock {
   public:
    explicit Lock(const ServiceSegment& segment)
        : threads_(segment.mutex_), processes_(segment.object_.fd()) {}

   private:
    std::lock_guard<std::mutex> threads_;
    ExclusiveLock processes_;
  };

  // The steps of open(). create_new and open_existing return nullptr when the name changed
  // under them and should be looked at again; open_anew tries them until one succeeds.
  static std::shared_ptr<ServiceSegment> open_anew(const WantedService& wanted);
  static std::shared_ptr<ServiceSegment> create_new(const WantedService& wanted);
  static std::shared_ptr<ServiceSegment> open_existing(const WantedService& wanted);
  /// Checks an existing segment's types and limits against what was asked for and registers
  /// this process's node; the object's lock is held.
  void join(const ServiceHeader& header, const WantedService& wanted);
  /// The node's handle of a segment just opened, entered in its open services; the caller
  /// holds their lock.
  static std::shared_ptr<ServiceSegment> handed_out(std::shared_ptr<ServiceSegment> segment,
                                                    std::shared_ptr<OpenServices> open_services,
                                                    const std::string& object_name);
  /// The same checks for a node that holds the segment open already, which keeps its record.
  void rejoin(const WantedService& wanted);
  /// Whether the name still stands for this segment: not removed, not replaced, not shrunk.
  bool is_still_published() noexcept;

  // All of these expect the segment lock to be held.
  /// How many dead nodes and ports it reclaimed; `occasion` says for the log what found them
  /// ("opening the service", "clean_up_dead_nodes", ...).
  DeadNodeCleanup reclaim_dead_nodes_locked(std::string_view occasion) noexcept;
  bool has_live_node_locked() const noexcept;
  /// Whether the node's process still runs: its liveness mark is held (ours always is).
  bool is_node_alive(std::uint32_t node) const noexcept;
  /// Unlinks the segment's name if it still names this segment and marks it removed, unless it
  /// was removed already; `error` gets the errno of a failed unlink.
  SharedMemoryObject::Unlinked remove_locked(int* error = nullptr) noexcept;

  /// Unlinks the data segments a port life left in /dev/shm (a readdir: cold), if the port
  /// writes slices; how many.
  std::uint32_t unlink_data_segments_locked(DataSegmentWriter writer, std::uint32_t slot,
                                            std::uint32_t generation) const noexcept;

  /// Logs, once per segment, that its mapping was found damaged and how (`how`).
  void log_damage(std::string_view how) const noexcept;

  SharedMemoryObject object_;
  Mapping mapping_;
  SegmentView view_;
  std::string service_name_;
  AttributeSet attributes_;
  std::uint32_t node_index_;
  mutable std::mutex mutex_;  // the thread half of the segment lock
  mutable std::atomic<bool> damage_logged_{false};
};

/// Unlinks the object's name if it still names this very object, and then marks the segment
/// removed (if the mapping holds a header), unless it says removed already: the removal of a
/// stale or last-left segment. The data segments of the service's ports go with it. The caller
/// holds the object's lock. `error` gets the errno of a failed unlink.
SharedMemoryObject::Unlinked remove_object_locked(const SharedMemoryObject& object,
                                                  const Mapping& mapping,
                                                  int* error = nullptr) noexcept;

/// Adds the data segments of the service at `service_object` (their count and sizes, from
/// /dev/shm) to `usage`: a readdir, so only where someone asks.
void add_data_segment_usage(ServiceUsage& usage, const std::string& service_object) noexcept;

/// Unlinks every data segment whose name starts with `prefix`; how many. Never throws: a
/// cleanup that cannot list /dev/shm leaves them to the next one.
std::uint32_t unlink_data_segments(std::string_view prefix) noexcept;

}  // namespace floe::detail
