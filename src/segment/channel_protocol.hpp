#pragma once
// The channel protocol: every change a client, a server or a process cleaning up after a dead
// port makes to the shared state of requests and responses, each written once, here.
//
// A request's life on the response channel (server s, client c, slot k), in its open marker
// ResponseChannelHead::open_request_id:
//
//   0 --open_request (client)--> id --take_request (server)--> id|received
//                                 |                                 |
//            withdraw_request (client, only while unreceived)   close_request (server)
//                                 v                                 v
//                                 0                  0, or id|server_gone (close_request_as_gone)
//
// A server that dies leaves its requests open; reclaiming its port (reset_server_resources)
// turns each open id into id|server_gone (mark_server_gone), which the client reads as the end
// of that server's stream with the server gone. The client's next open_request overwrites it.
//
// take and withdraw are compare-and-swaps from the same value, so exactly one wins: a request is
// either taken by the server or withdrawn by the client, never both. A channel is reused only
// once no PendingResponse and no server holds it (release_unheld_channel).
//
// Hot paths (send, receive, loan) call the inline functions; the rest run when a port or a
// PendingResponse goes, or under the segment lock.

#include <cstdint>
#include <optional>

#include "floe/introspection.hpp"
#include "segment/port_view.hpp"
#include "segment/view.hpp"
#include "shm/atomics.hpp"

namespace floe::detail {

/// What reset_client_resources adds to a server's doorbell word when a client went with
/// requests still queued to it (fire-and-forget), after marking them in the queue
/// (IndexQueue::mark_producer_departed): the word's upper half counts such departures, its
/// lower half the wake-ups senders ring. The server compares the upper half on each receive
/// (one load of its own record) and only when it moved looks for queues holding a departed
/// client's requests, which it drains first. A carry out of the lower half makes it look once
/// needlessly, nothing more.
inline constexpr std::uint32_t kClientDepartureBell = std::uint32_t{1} << 16;

/// Server: the count of departures in its doorbell word (see kClientDepartureBell).
inline std::uint32_t departures_rung(PortRecord& server) noexcept {
  return load(server.doorbell) / kClientDepartureBell;
}

/// Client: opens the channel for `request_id`, which it is about to deliver to the server.
inline void open_request(const ResponseChannel& channel, std::uint64_t request_id) noexcept {
  store(channel.head()->open_request_id, request_id);
}

/// Server: takes a delivered request; false when its client withdrew it first (or safe overflow
/// evicted it, or the channel moved on to a newer request).
inline bool take_request(const ResponseChannel& channel, std::uint64_t request_id) noexcept {
  std::uint64_t delivered = request_id;
  return compare_exchange(channel.head()->open_request_id, delivered, request_id | kReceivedBit);
}

/// Client: withdraws a request no server has taken yet; false when one took it (or it is not
/// open on this channel). Looked at before the compare-and-swap: the common case (nothing to
/// withdraw) writes nothing the server reads.
inline bool withdraw_request(const ResponseChannel& channel, std::uint64_t request_id) noexcept {
  std::uint64_t& open = channel.head()->open_request_id;
  if (load(open) != request_id) return false;
  std::uint64_t unreceived = request_id;
  return compare_exchange(open, unreceived, std::uint64_t{0});
}

/// Server: closes a request it took: its stream ends (or the request is discarded).
inline void close_request(const ResponseChannel& channel, std::uint64_t request_id) noexcept {
  std::uint64_t received = request_id | kReceivedBit;
  compare_exchange(channel.head()->open_request_id, received, std::uint64_t{0});
}

/// Server: closes a request it took as if the server had gone (the client reads the end of its
/// stream as StreamEnd::server_gone): a server standing in for one elsewhere that failed
/// mid-stream (floe-gateway's importing side) ends it so, not as finished.
inline void close_request_as_gone(const ResponseChannel& channel,
                                  std::uint64_t request_id) noexcept {
  std::uint64_t received = request_id | kReceivedBit;
  compare_exchange(channel.head()->open_request_id, received, request_id | kServerGoneBit);
}

/// Reclaim of a dead server's port: marks the request it left open on the channel, if any, as
/// ended by the server's death. A compare-and-swap: the client may withdraw an untaken request
/// meanwhile, and then nothing is left to mark.
inline void mark_server_gone(const ResponseChannel& channel) noexcept {
  std::uint64_t open = load(channel.head()->open_request_id);
  while (open != 0 && (open & kServerGoneBit) == 0 &&
         !compare_exchange(channel.head()->open_request_id, open,
                           (open & ~kReceivedBit) | kServerGoneBit)) {
  }
}

/// Whether the server of the channel died with `request_id` open (mark_server_gone).
inline bool did_server_go(const ResponseChannel& channel, std::uint64_t request_id) noexcept {
  return load(channel.head()->open_request_id) == (request_id | kServerGoneBit);
}

/// Whether `request_id` is open on the channel, taken or not.
inline bool is_request_open(const ResponseChannel& channel, std::uint64_t request_id) noexcept {
  return (load(channel.head()->open_request_id) & ~kReceivedBit) == request_id;
}

/// Client: tells the servers of the live request on `channel` that it will stop listening soon.
/// Only a live channel takes the hint (a compare-and-swap from kPendingAlive), as in iceoryx2.
inline void set_disconnect_hint(ClientChannel& channel) noexcept {
  std::uint32_t alive = kPendingAlive;
  compare_exchange(channel.pending_alive, alive, kPendingAlive | kDisconnectHint);
}

/// Server: whether the client of `request_id` on `channel` gave the disconnect hint. Only the
/// exact hinted value of this very request counts: anything else a peer wrote means no hint.
inline bool has_disconnect_hint(ClientChannel& channel, std::uint64_t request_id) noexcept {
  return load(channel.pending_alive) == (kPendingAlive | kDisconnectHint) &&
         load(channel.request_id) == request_id;
}

/// Moves a response chunk from `from` to free, if it is in `from`. The index may come from
/// shared memory: checked here.
inline void release_response_chunk(const ResponseChannel& channel, std::uint32_t chunk,
                                   ResponseChunkState from) noexcept {
  if (chunk >= channel.chunk_count()) return;
  auto expected = static_cast<std::uint32_t>(from);
  compare_exchange(*channel.chunk_state(chunk), expected,
                   static_cast<std::uint32_t>(ResponseChunkState::free));
}

/// Empties the response queue, freeing the chunks of what was queued: nobody reads them.
inline void discard_queued_responses(const ResponseChannel& channel) noexcept {
  channel.queue().drain([&](std::uint64_t entry) {
    release_response_chunk(channel, entry_index(entry), ResponseChunkState::queued);
  });
}

/// Moves client c's request chunk from `from` to free, if it is in `from`. The index may come
/// from shared memory: checked here.
inline void release_request_chunk(const SegmentView& segment, std::uint32_t client,
                                  std::uint32_t chunk, RequestChunkState from) noexcept {
  if (chunk >= segment.layout().request_chunks_per_client()) return;
  auto expected = static_cast<std::uint32_t>(from);
  compare_exchange(*segment.request_chunk_state(client, chunk), expected,
                   static_cast<std::uint32_t>(RequestChunkState::free));
}

/// A request a server took: the client's slot it came through and the chunk that holds it.
struct TakenRequest {
  std::uint32_t channel;
  std::uint64_t request_id;
  std::uint32_t chunk;
};

/// Server: takes the request an entry of `client`'s request queue names. std::nullopt when the
/// entry is garbage, the request was withdrawn or evicted, or the client's channel no longer
/// holds it for a listener (then it is closed again at once).
inline std::optional<TakenRequest> take_queued_request(const ServerPortView& server,
                                                       std::uint32_t client,
                                                       std::uint64_t entry) noexcept {
  const SegmentView& segment = server.segment();
  const std::uint32_t k = segment.channel_of(entry);
  if (k == kNoChunk) return std::nullopt;
  const std::uint64_t request_id = entry_request_id(entry);
  const ResponseChannel response = server.response_channel(client, k);
  if (!take_request(response, request_id)) return std::nullopt;
  ClientChannel* channel = segment.client_channel(client, k);
  const bool same_request = load(channel->request_id) == request_id;
  const bool listening = same_request && load(channel->pending_alive) != 0;
  const std::uint32_t chunk = segment.bound_chunk(*channel);
  if (!same_request || chunk == kNoChunk ||
      (!listening && !segment.limits().enable_fire_and_forget_requests)) {
    close_request(response, request_id);
    return std::nullopt;
  }
  return TakenRequest{k, request_id, chunk};
}

/// Client: withdraws, from server s, the request an entry of client c's request queue to s names
/// (an entry popped by safe overflow or by a cleanup). The entry's index is checked here.
void withdraw_queued_request(const SegmentView& segment, std::uint32_t client, std::uint32_t server,
                             std::uint64_t entry) noexcept;

/// Whether any active server still has the request open on client c's slot k.
bool is_channel_held_by_server(const SegmentView& segment, std::uint32_t client, std::uint32_t k,
                               std::uint64_t request_id) noexcept;

/// Frees client c's slot k, and its request chunk, if nobody holds it any more: no
/// PendingResponse and no server with the request open. `withdraw_unreceived` (a client that
/// needs the slot, fire-and-forget off): first withdraws the request from servers that have not
/// taken it, since nobody would read their answers. Returns whether the slot is free.
bool release_unheld_channel(const SegmentView& segment, std::uint32_t client, std::uint32_t k,
                            bool withdraw_unreceived) noexcept;

/// Frees the request chunks of client c's slots that nobody holds any more. Called by the
/// client that owns the slot, or under the segment lock for a slot without owner.
void collect_client_channels(const SegmentView& segment, std::uint32_t client) noexcept;

/// collect_client_channels for every free client slot: what a gone server let go of.
void collect_orphaned_channels(const SegmentView& segment) noexcept;

/// The resources a client port leaves behind when it goes (or is reclaimed from a dead
/// process): its PendingResponses end, its unread requests are withdrawn (fire-and-forget off)
/// or, with fire-and-forget on, left for the servers, each of which is told with a
/// kClientDepartureBell; its loans, queued and borrowed responses freed. Under the segment lock,
/// after the slot's state says free.
void reset_client_resources(const SegmentView& segment, std::uint32_t client) noexcept;

/// The same for a server port: its request queues emptied, every request it left open marked
/// as ended by its death (mark_server_gone), its loans freed; what it queued stays for clients that
/// still read, unless the client is gone.
void reset_server_resources(const SegmentView& segment, std::uint32_t server) noexcept;

/// What the segment holds right now (every index computed, none read from it).
ServiceUsage usage_of(const SegmentView& segment) noexcept;

}  // namespace floe::detail
