#pragma once
// The layout of a request-response service's shared-memory segment. Every offset is computed
// from the limits by each process on its own; nothing but atomics, indices and payload bytes is
// ever read back from shared memory, so a peer cannot point us outside the segment.
//
//   ServiceHeader          static record: written once by the creator, then read-only
//   NodeRecord[nodes]      processes that hold the service open
//   PortRecord[clients]    client slots        PortRecord[servers] server slots
//   ClientChannel[clients][active]             one per request a client may have open
//   u32 request_chunk_state[clients][R]        R = loaned requests + active requests
//   RequestQueue[clients][servers]             client -> server, `active` entries
//   ResponseChannel[servers][clients][active]  server -> client, one per open request: its
//                                              open marker, queue and P response chunks
//                                              P = response buffer + borrowed + loaned responses
//   request chunks[clients][R]
//
// A response chunk holds its own state word right after its header: the client reads the
// response and writes the state, the server writes both, so keeping them on one cache line
// saves a line transfer per response (measured: streams about a third faster). The chunks of
// a floe::Slice payload also hold a SliceDescriptor (its length) on that first line, and have
// room for the service's max slice length of elements.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "floe/attributes.hpp"
#include "floe/config.hpp"
#include "floe/header.hpp"
#include "floe/limits.hpp"
#include "floe/shm_compatible.hpp"
#include "shm/index_queue.hpp"

namespace floe::detail {

inline constexpr std::uint64_t kSegmentMagic = 0x3172722d656f6c66ull;  // "floe-rr1"
// 4: ResponseHeader::sequence_number; 5: QueueControl's producer_waiting flag; 7: queue entries
// start on the tail's cache line; 8: attributes and payload alignments in the header,
// ClientChannel::pending_alive carries the disconnect hint, HeadCursor::departed_until marks a
// departed client's requests; 9: NodeRecord holds the node's name; 10: slice lengths in the
// header, SliceDescriptor in the chunks of a slice payload; 11: SliceDescriptor::segment names a
// data segment of the writing port (segment/data_segment.hpp)
inline constexpr std::uint32_t kLayoutVersion = 11;
inline constexpr std::uint32_t kMaxTypeNameLength = kMaxTypeNameBytes;
/// Node::create's bound on a node's name.
inline constexpr std::uint32_t kMaxNodeNameLength = 255;
inline constexpr std::uint32_t kMaxServers = limit_info(LimitId::max_servers).max;
inline constexpr std::uint32_t kMaxNodes = limit_info(LimitId::max_nodes).max;
static_assert(kMaxServers <= 64, "a request's receivers are one 64-bit mask");
// Queue entries and chunk states carry 16-bit chunk indices: the ranges keep every chunk count
// below 2^16, so SegmentLayout::compute need not check their sums.
static_assert(limit_info(LimitId::max_loaned_requests).max +
                  limit_info(LimitId::max_active_requests_per_client).max <=
              0xffff);
static_assert(limit_info(LimitId::max_response_buffer_size).max +
                  limit_info(LimitId::max_borrowed_responses_per_pending_response).max +
                  limit_info(LimitId::max_loaned_responses_per_request).max <=
              0xffff);

enum class SegmentState : std::uint32_t { initializing = 0, ready = 1, removed = 2 };

struct StoredType {
  char name[kMaxTypeNameLength + 1];
  std::uint64_t size;
  std::uint64_t alignment;
};

/// The limits in shared memory: FLOE_REQUEST_RESPONSE_LIMITS's fields in its order, a flag as
/// one byte.
struct StoredLimits {
#define FLOE_STORED_LIMIT(name, type, ...) \
  std::conditional_t<std::is_same_v<type, bool>, std::uint8_t, type> name;
  FLOE_REQUEST_RESPONSE_LIMITS(FLOE_STORED_LIMIT)
#undef FLOE_STORED_LIMIT
  std::uint8_t reserved[5];
};
// The bytes of layout version 6: eight 32-bit counts, three flags, five reserved.
static_assert(sizeof(StoredLimits) == 40 &&
                  offsetof(StoredLimits, max_loaned_responses_per_request) == 28 &&
                  offsetof(StoredLimits, enable_fire_and_forget_requests) == 32 &&
                  offsetof(StoredLimits, reserved) == 35,
              "StoredLimits is shared memory: a new limit needs a new kLayoutVersion");

/// One attribute: its lengths, and its bytes at the start of key and value. The lengths are
/// read from shared memory: validate_header (segment_header.hpp) checks them before any use.
struct StoredAttribute {
  std::uint8_t key_length;
  std::uint8_t value_length;
  char key[kMaxAttributeKeyLength];
  char value[kMaxAttributeValueLength];
};
static_assert(sizeof(StoredAttribute) == 256 && kMaxAttributeKeyLength <= 0xff &&
              kMaxAttributeValueLength <= 0xff);

/// The attributes in shared memory, in AttributeSet's order; `count` is checked as the lengths.
struct StoredAttributes {
  std::uint32_t count;
  std::uint32_t reserved;
  StoredAttribute items[kMaxAttributes];
};

struct ServiceHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t state;  // SegmentState
  std::uint64_t segment_size;
  std::uint32_t name_length;
  char name[256];
  StoredType request;
  StoredType response;
  StoredType request_user_header;
  StoredType response_user_header;
  StoredLimits limits;
  // Where payloads start: a power of two up to 4096, at least the type's alignment (the builder's
  // request_payload_alignment / response_payload_alignment, or the type's own).
  std::uint64_t request_payload_alignment;
  std::uint64_t response_payload_alignment;
  StoredAttributes attributes;
  // The most elements of a floe::Slice payload (StoredType holds its element), what every
  // chunk has room for; 0: a fixed payload.
  std::uint64_t request_max_slice_len;
  std::uint64_t response_max_slice_len;
};
static_assert(std::is_trivially_copyable_v<ServiceHeader>);

enum class SlotState : std::uint32_t { free = 0, active = 1 };

/// A process holding the service open. The name is what Node::create was given, for tools:
/// written by the node's process before it marks the record active, read by anyone; its
/// length is a peer's word, so readers bound it (node_name_of) and escape it when printing.
struct alignas(64) NodeRecord {
  std::uint32_t state;  // SlotState
  std::uint32_t name_length;
  std::uint64_t pid;
  std::uint64_t start_time;
  char name[kMaxNodeNameLength];  // not terminated
};
static_assert(sizeof(NodeRecord) == 320 && std::is_trivially_copyable_v<NodeRecord>);

/// Writes the node's name into its record (cut at kMaxNodeNameLength), byte by byte as atomics:
/// a tool may read the record meanwhile.
void store_node_name(NodeRecord& record, std::string_view name) noexcept;
/// The name in a record: at most kMaxNodeNameLength bytes, whatever its length field says. Any
/// bytes: a peer wrote them.
std::string node_name_of(const NodeRecord& record);

struct alignas(64) PortRecord {
  std::uint32_t state;       // SlotState
  std::uint32_t generation;  // counts up each time the slot is taken
  std::uint32_t node;        // index of the owning NodeRecord
  std::uint32_t reserved;
  std::uint64_t next_request_id;  // clients: never reset, so request ids never repeat in a slot
  // The port's notifier (see shm/doorbell.hpp): set by the owner before it sleeps, read by
  // every sender, so it shares the line senders read anyway.
  std::uint32_t waiting;
  std::uint32_t doorbell;  // futex word, counts up on each wake-up
};
static_assert(sizeof(PortRecord) == 64 && std::is_trivially_copyable_v<PortRecord>);

/// A client's request: which chunk holds it, and whether its PendingResponse still exists.
/// The channel may be reused once nobody holds it: no PendingResponse and no server with the
/// request open (ResponseChannel::open_request_id).
struct alignas(16) ClientChannel {
  std::uint64_t request_id;     // 0 when never used
  std::uint32_t pending_alive;  // 0, kPendingAlive, or kPendingAlive | kDisconnectHint
  std::uint32_t chunk;
};
static_assert(sizeof(ClientChannel) == 16 && std::is_trivially_copyable_v<ClientChannel>);

/// ClientChannel::pending_alive: the PendingResponse exists (any nonzero value counts as alive,
/// so a peer's garbage keeps a stream open at worst, as writing 1 would).
inline constexpr std::uint32_t kPendingAlive = 1;
/// Added by the client to a live channel: it will stop listening soon (disconnect hint). Only
/// the exact value kPendingAlive | kDisconnectHint means so; cleared with the channel.
inline constexpr std::uint32_t kDisconnectHint = 2;

// The response header and the chunk's state word share the chunk's first cache line.
static_assert(std::is_trivially_copyable_v<ResponseHeader> && sizeof(ResponseHeader) + 4 <= 64);

enum class RequestChunkState : std::uint32_t { free = 0, loaned = 1, bound = 2 };
enum class ResponseChunkState : std::uint32_t { free = 0, loaned = 1, queued = 2, borrowed = 3 };

/// Set by the client to the request id when it delivers the request to this server; the server
/// adds kReceivedBit when it takes the request, and clears it all when it ends the stream (drops
/// the ActiveRequest) or discards the request. A client whose PendingResponse is gone withdraws
/// a request no server has taken yet by clearing it, so an unread request never pins a channel.
inline constexpr std::uint64_t kReceivedBit = std::uint64_t{1} << 63;

struct alignas(64) ResponseChannelHead {
  std::uint64_t open_request_id;
  std::uint8_t padding[56];
};

/// Entries of the request queue: request id << 16 | channel index.
/// Entries of a response queue: request id << 16 | chunk index.
inline constexpr std::uint64_t pack_entry(std::uint64_t request_id, std::uint32_t index) noexcept {
  return (request_id << 16) | (index & 0xffffu);
}
inline constexpr std::uint64_t entry_request_id(std::uint64_t entry) noexcept {
  return entry >> 16;
}
inline constexpr std::uint32_t entry_index(std::uint64_t entry) noexcept {
  return static_cast<std::uint32_t>(entry & 0xffffu);
}

inline constexpr ClientId make_port_id(std::uint32_t slot, std::uint32_t generation) noexcept {
  return (std::uint64_t{generation} << 32) | slot;
}

/// The length of a slice payload, in every chunk of one, on the line of the chunk's header (and
/// state word). Written by the sender's core at loan; a receiver reads it once and checks it
/// against the capacity it computed itself (SegmentView::request_slice,
/// ResponseChannel::response_slice_of), never trusting it further.
struct SliceDescriptor {
  std::uint64_t length;   // elements
  std::uint32_t segment;  // 0: the elements follow in this chunk; n: in the writer's data segment n
  std::uint32_t reserved;
};
static_assert(sizeof(SliceDescriptor) == 16 && std::is_trivially_copyable_v<SliceDescriptor>);
// Response: header, state word, padding to 8, descriptor: all on the chunk's first line.
static_assert(sizeof(ResponseHeader) + 4 + 4 + sizeof(SliceDescriptor) <= 64 &&
              sizeof(RequestHeader) + sizeof(SliceDescriptor) <= 64);

/// Where header, state word (response chunks only), slice descriptor (slice payloads only),
/// user header and payload lie in one chunk.
struct ChunkShape {
  std::uint64_t state_offset = 0;
  std::uint64_t slice_offset = 0;  // 0 (the header's place): no descriptor, a fixed payload
  std::uint64_t user_header_offset = 0;
  std::uint64_t payload_offset = 0;
  std::uint64_t stride = 0;
};

/// "512 B", "3.0 KiB", "48.0 GiB": sizes for people.
std::string human_size(std::uint64_t bytes);

class SegmentLayout {
 public:
  /// std::nullopt when the limits, types or alignments are out of range (also for a hostile
  /// header). Payloads start at the larger of their type's alignment and the payload alignment
  /// given (a power of two up to 4096).
  static std::optional<SegmentLayout> compute(
      const StoredLimits& limits, const StoredType& request, const StoredType& response,
      const StoredType& request_user_header, const StoredType& response_user_header,
      std::uint64_t request_payload_alignment = 1, std::uint64_t response_payload_alignment = 1,
      std::uint64_t request_max_slice_len = 0, std::uint64_t response_max_slice_len = 0) noexcept;

  const StoredLimits& limits() const noexcept { return limits_; }
  std::uint64_t total_size() const noexcept { return total_size_; }
  std::uint32_t request_chunks_per_client() const noexcept { return request_chunks_; }
  std::uint32_t response_chunks_per_channel() const noexcept { return response_chunks_; }
  const ChunkShape& request_shape() const noexcept { return request_shape_; }
  const ChunkShape& response_shape() const noexcept { return response_shape_; }
  /// The most elements a request / response slice holds (0: a fixed payload), from the header
  /// this process validated: what a received length is checked against.
  std::uint64_t request_slice_capacity() const noexcept { return request_slice_capacity_; }
  std::uint64_t response_slice_capacity() const noexcept { return response_slice_capacity_; }
  /// The size of one element of a request / response slice, and where slice payloads start: the
  /// larger of the element's alignment and the service's payload alignment. What a data segment's
  /// geometry is computed from (segment/data_segment.hpp).
  std::uint64_t request_element_size() const noexcept { return request_element_size_; }
  std::uint64_t response_element_size() const noexcept { return response_element_size_; }
  std::uint64_t request_payload_alignment() const noexcept { return request_payload_alignment_; }
  std::uint64_t response_payload_alignment() const noexcept { return response_payload_alignment_; }
  /// Bytes of all response chunks, of all request chunks: what the limits multiply the payload
  /// sizes by. The rest of the segment is small bookkeeping.
  std::uint64_t response_chunk_bytes() const noexcept;
  std::uint64_t request_chunk_bytes() const noexcept;
  /// The size formula with this service's numbers, for messages: "response chunks 2 servers x
  /// ... = 48.0 GiB, request chunks ..., bookkeeping ...".
  std::string describe_size() const;
  /// The limits to lower to shrink the larger of the two chunk areas, for messages.
  std::string limits_to_lower() const;

 private:
  // The offsets below are read through SegmentView, which binds them to a mapping.
  friend class SegmentView;
  friend class ResponseChannel;

  StoredLimits limits_{};
  std::uint32_t request_chunks_ = 0;
  std::uint32_t response_chunks_ = 0;
  ChunkShape request_shape_;
  ChunkShape response_shape_;
  std::uint64_t request_slice_capacity_ = 0, response_slice_capacity_ = 0;
  std::uint64_t request_element_size_ = 0, response_element_size_ = 0;
  std::uint64_t request_payload_alignment_ = 1, response_payload_alignment_ = 1;
  std::uint64_t nodes_ = 0, clients_ = 0, servers_ = 0, client_channels_ = 0;
  std::uint64_t request_chunk_states_ = 0, request_queues_ = 0, request_queue_stride_ = 0;
  std::uint64_t response_channels_ = 0, response_channel_stride_ = 0;
  std::uint64_t response_chunks_in_channel_ = 0;
  std::uint64_t request_chunks_offset_ = 0, total_size_ = 0;
};

}  // namespace floe::detail
