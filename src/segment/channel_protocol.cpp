#include "segment/channel_protocol.hpp"

namespace floe::detail {
namespace {

constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);

}  // namespace

void withdraw_queued_request(const SegmentView& segment, std::uint32_t client, std::uint32_t server,
                             std::uint64_t entry) noexcept {
  const std::uint32_t k = segment.channel_of(entry);
  if (k == kNoChunk) return;
  withdraw_request(segment.response_channel(server, client, k), entry_request_id(entry));
}

bool is_channel_held_by_server(const SegmentView& segment, std::uint32_t client, std::uint32_t k,
                               std::uint64_t request_id) noexcept {
  if (request_id == 0) return false;
  for (std::uint32_t s = 0; s < segment.limits().max_servers; ++s) {
    if (load(segment.server(s)->state) != kActive) continue;
    if (is_request_open(segment.response_channel(s, client, k), request_id)) return true;
  }
  return false;
}

bool release_unheld_channel(const SegmentView& segment, std::uint32_t client, std::uint32_t k,
                            bool withdraw_unreceived) noexcept {
  ClientChannel* channel = segment.client_channel(client, k);
  if (load(channel->pending_alive) != 0) return false;
  const std::uint64_t request_id = load(channel->request_id);
  if (withdraw_unreceived) {
    for (std::uint32_t s = 0; s < segment.limits().max_servers; ++s) {
      withdraw_request(segment.response_channel(s, client, k), request_id);
    }
  }
  if (is_channel_held_by_server(segment, client, k, request_id)) return false;
  const std::uint32_t chunk = segment.bound_chunk(*channel);
  if (chunk != kNoChunk) {
    store(channel->chunk, kNoChunk);
    release_request_chunk(segment, client, chunk, RequestChunkState::bound);
  }
  return true;
}

void collect_client_channels(const SegmentView& segment, std::uint32_t client) noexcept {
  for (std::uint32_t k = 0; k < segment.limits().max_active_requests_per_client; ++k) {
    // A slot without a chunk has nothing to free: not worth looking at the servers for.
    if (segment.bound_chunk(*segment.client_channel(client, k)) == kNoChunk) continue;
    release_unheld_channel(segment, client, k, false);
  }
}

void collect_orphaned_channels(const SegmentView& segment) noexcept {
  for (std::uint32_t c = 0; c < segment.limits().max_clients; ++c) {
    if (load(segment.client(c)->state) == static_cast<std::uint32_t>(SlotState::free)) {
      collect_client_channels(segment, c);
    }
  }
}

void reset_client_resources(const SegmentView& segment, std::uint32_t client) noexcept {
  const StoredLimits& l = segment.limits();
  for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
    store(segment.client_channel(client, k)->pending_alive, 0u);
  }
  for (std::uint32_t s = 0; s < l.max_servers; ++s) {
    IndexQueue queue = segment.request_queue(client, s);
    if (!l.enable_fire_and_forget_requests) {
      // Requests nobody will read the answers of are withdrawn from the servers.
      queue.drain([&](std::uint64_t entry) { withdraw_queued_request(segment, client, s, entry); });
    } else if (!queue.empty() && load(segment.server(s)->state) == kActive) {
      // The oldest work there is: the server takes these before any live client's requests.
      queue.mark_producer_departed();
      fetch_add(segment.server(s)->doorbell, kClientDepartureBell);
    }
  }
  for (std::uint32_t i = 0; i < segment.layout().request_chunks_per_client(); ++i) {
    release_request_chunk(segment, client, i, RequestChunkState::loaned);
  }
  for (std::uint32_t s = 0; s < l.max_servers; ++s) {
    for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
      const ResponseChannel channel = segment.response_channel(s, client, k);
      discard_queued_responses(channel);
      for (std::uint32_t i = 0; i < channel.chunk_count(); ++i) {
        release_response_chunk(channel, i, ResponseChunkState::borrowed);
      }
    }
  }
}

void reset_server_resources(const SegmentView& segment, std::uint32_t server) noexcept {
  const StoredLimits& l = segment.limits();
  for (std::uint32_t c = 0; c < l.max_clients; ++c) {
    segment.request_queue(c, server).drain([](std::uint64_t) {});
    const bool client_gone = load(segment.client(c)->state) != kActive;
    for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
      const ResponseChannel channel = segment.response_channel(server, c, k);
      mark_server_gone(channel);
      if (client_gone) {
        // Queued and borrowed responses stay for a live client to read; a gone one reads no more.
        channel.queue().drain([](std::uint64_t) {});
      }
      for (std::uint32_t i = 0; i < channel.chunk_count(); ++i) {
        release_response_chunk(channel, i, ResponseChunkState::loaned);
        if (client_gone) {
          release_response_chunk(channel, i, ResponseChunkState::queued);
          release_response_chunk(channel, i, ResponseChunkState::borrowed);
        }
      }
    }
  }
}

ServiceUsage usage_of(const SegmentView& segment) noexcept {
  ServiceUsage u;
  const StoredLimits& l = segment.limits();
  u.segment_size = segment.layout().total_size();
  for (std::uint32_t n = 0; n < l.max_nodes; ++n) {
    u.nodes += load(segment.node(n)->state) == kActive;
  }
  for (std::uint32_t c = 0; c < l.max_clients; ++c) {
    u.clients += load(segment.client(c)->state) == kActive;
    for (std::uint32_t i = 0; i < segment.layout().request_chunks_per_client(); ++i) {
      ++u.request_chunks;
      u.request_chunks_in_use += load(*segment.request_chunk_state(c, i)) != 0;
    }
  }
  for (std::uint32_t s = 0; s < l.max_servers; ++s) {
    u.servers += load(segment.server(s)->state) == kActive;
    for (std::uint32_t c = 0; c < l.max_clients; ++c) {
      for (std::uint32_t k = 0; k < l.max_active_requests_per_client; ++k) {
        const ResponseChannel channel = segment.response_channel(s, c, k);
        for (std::uint32_t i = 0; i < channel.chunk_count(); ++i) {
          ++u.response_chunks;
          u.response_chunks_in_use += load(*channel.chunk_state(i)) != 0;
        }
      }
    }
  }
  return u;
}

}  // namespace floe::detail
