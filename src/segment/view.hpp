#pragma once
// A service's segment as this process maps it: the mapping's base bound to the layout once, so
// the two never travel apart. Accessors take indices the caller checked against the limits; an
// index read from shared memory is checked by the one function below that decodes it
// (channel_of, response_chunk_of, bound_chunk), never used raw; so is a slice length
// (request_slice, response_slice_of), read once.

#include <cstddef>
#include <cstdint>

#include "segment/layout.hpp"
#include "shm/atomics.hpp"
#include "shm/index_queue.hpp"

namespace floe::detail {

/// ClientChannel::chunk of a channel without a request chunk; what any out-of-range index
/// decodes to.
inline constexpr std::uint32_t kNoChunk = 0xffffffffu;
/// What a slice length a peer wrote beyond the chunk's capacity decodes to.
inline constexpr std::uint64_t kBadLength = ~std::uint64_t{0};

/// Sender: writes the descriptor of a loaned chunk of a slice (shape.slice_offset != 0): its
/// length, and the data segment holding its elements (0: inline, in the chunk).
inline void write_slice_descriptor(std::byte* chunk, const ChunkShape& shape, std::uint64_t length,
                                   std::uint32_t segment = 0) noexcept {
  auto* descriptor = reinterpret_cast<SliceDescriptor*>(chunk + shape.slice_offset);
  store(descriptor->length, length, std::memory_order_relaxed);
  store(descriptor->segment, segment, std::memory_order_relaxed);
}

/// A slice descriptor as a receiver read it, once. segment 0: the elements are inline and
/// `length` was checked against the chunk's capacity (kBadLength when it exceeded it); else they
/// are in the writer's data segment `segment` and `length` is unchecked until that segment's
/// max is known (ports/data_mappings.hpp checks it).
struct SliceRef {
  std::uint64_t length = 0;
  std::uint32_t segment = 0;
};

/// The descriptor of `chunk` (shape.slice_offset != 0), each word loaded once; see SliceRef.
/// `capacity`: elements the chunk has room for, from this process's layout.
inline SliceRef checked_slice(std::byte* chunk, const ChunkShape& shape,
                              std::uint64_t capacity) noexcept {
  auto* descriptor = reinterpret_cast<SliceDescriptor*>(chunk + shape.slice_offset);
  SliceRef ref;
  ref.length = load(descriptor->length, std::memory_order_relaxed);
  ref.segment = load(descriptor->segment, std::memory_order_relaxed);
  if (ref.segment == 0 && ref.length > capacity) ref.length = kBadLength;
  return ref;
}

/// One response channel (server, client, request slot): its open marker, queue and chunk pool.
class ResponseChannel {
 public:
  ResponseChannel(std::byte* at, const SegmentLayout& layout) noexcept
      : at_(at), layout_(&layout) {}

  ResponseChannelHead* head() const noexcept { return reinterpret_cast<ResponseChannelHead*>(at_); }
  IndexQueue queue() const noexcept {
    std::byte* control = at_ + sizeof(ResponseChannelHead);
    return IndexQueue(reinterpret_cast<QueueControl*>(control),
                      reinterpret_cast<std::uint64_t*>(control + kQueueEntriesOffset),
                      layout_->limits_.max_response_buffer_size);
  }
  std::byte* chunk(std::uint32_t i) const noexcept {
    return at_ + layout_->response_chunks_in_channel_ +
           std::uint64_t{i} * layout_->response_shape_.stride;
  }
  std::uint32_t* chunk_state(std::uint32_t i) const noexcept {
    return reinterpret_cast<std::uint32_t*>(chunk(i) + layout_->response_shape_.state_offset);
  }
  std::uint32_t chunk_count() const noexcept { return layout_->response_chunks_; }
  /// The chunk a response-queue entry names, or kNoChunk when a peer wrote one out of range.
  std::uint32_t response_chunk_of(std::uint64_t entry) const noexcept {
    const std::uint32_t i = entry_index(entry);
    return i < chunk_count() ? i : kNoChunk;
  }
  /// The descriptor of the response slice in chunk i (from response_chunk_of), see SliceRef.
  SliceRef response_slice_of(std::uint32_t i) const noexcept {
    return checked_slice(chunk(i), layout_->response_shape_, layout_->response_slice_capacity_);
  }

 private:
  std::byte* at_;
  const SegmentLayout* layout_;
};

class SegmentView {
 public:
  SegmentView(std::byte* base, const SegmentLayout& layout) noexcept
      : base_(base), layout_(layout) {}

  std::byte* base() const noexcept { return base_; }
  const SegmentLayout& layout() const noexcept { return layout_; }
  const StoredLimits& limits() const noexcept { return layout_.limits_; }

  ServiceHeader* header() const noexcept { return reinterpret_cast<ServiceHeader*>(base_); }
  NodeRecord* node(std::uint32_t n) const noexcept {
    return reinterpret_cast<NodeRecord*>(base_ + layout_.nodes_) + n;
  }
  PortRecord* client(std::uint32_t c) const noexcept {
    return reinterpret_cast<PortRecord*>(base_ + layout_.clients_) + c;
  }
  PortRecord* server(std::uint32_t s) const noexcept {
    return reinterpret_cast<PortRecord*>(base_ + layout_.servers_) + s;
  }
  ClientChannel* client_channel(std::uint32_t c, std::uint32_t k) const noexcept {
    return reinterpret_cast<ClientChannel*>(base_ + layout_.client_channels_) +
           (std::uint64_t{c} * limits().max_active_requests_per_client + k);
  }
  std::uint32_t* request_chunk_state(std::uint32_t c, std::uint32_t i) const noexcept {
    return reinterpret_cast<std::uint32_t*>(base_ + layout_.request_chunk_states_) +
           (std::uint64_t{c} * layout_.request_chunks_ + i);
  }
  std::byte* request_chunk(std::uint32_t c, std::uint32_t i) const noexcept {
    return base_ + layout_.request_chunks_offset_ +
           (std::uint64_t{c} * layout_.request_chunks_ + i) * layout_.request_shape_.stride;
  }
  /// Client c's queue of requests to server s.
  IndexQueue request_queue(std::uint32_t c, std::uint32_t s) const noexcept {
    std::byte* at = base_ + layout_.request_queues_ +
                    (std::uint64_t{c} * limits().max_servers + s) * layout_.request_queue_stride_;
    return IndexQueue(reinterpret_cast<QueueControl*>(at),
                      reinterpret_cast<std::uint64_t*>(at + kQueueEntriesOffset),
                      limits().max_active_requests_per_client);
  }
  ResponseChannel response_channel(std::uint32_t s, std::uint32_t c,
                                   std::uint32_t k) const noexcept {
    const std::uint64_t index =
        (std::uint64_t{s} * limits().max_clients + c) * limits().max_active_requests_per_client + k;
    return ResponseChannel(base_ + layout_.response_channels_ + index * response_channel_stride(),
                           layout_);
  }
  std::uint64_t response_channel_stride() const noexcept {
    return layout_.response_channel_stride_;
  }

  /// The request slot a request-queue entry names, or kNoChunk when a peer wrote one out of
  /// range.
  std::uint32_t channel_of(std::uint64_t request_entry) const noexcept {
    const std::uint32_t k = entry_index(request_entry);
    return k < limits().max_active_requests_per_client ? k : kNoChunk;
  }
  /// The descriptor of the request slice in client c's chunk i (from bound_chunk), see SliceRef.
  SliceRef request_slice(std::uint32_t c, std::uint32_t i) const noexcept {
    return checked_slice(request_chunk(c, i), layout_.request_shape_,
                         layout_.request_slice_capacity_);
  }
  /// The request chunk bound to a client channel, or kNoChunk when none is (or a peer wrote one
  /// out of range).
  std::uint32_t bound_chunk(const ClientChannel& channel) const noexcept {
    const std::uint32_t chunk = load(const_cast<std::uint32_t&>(channel.chunk));
    return chunk < layout_.request_chunks_ ? chunk : kNoChunk;
  }

 private:
  std::byte* base_;
  SegmentLayout layout_;
};

}  // namespace floe::detail
