#include <bit>
#include <cstddef>
#include <cstring>

#include "floe/detail/ports.hpp"
#include "floe/error.hpp"
#include "ports/data_mappings.hpp"
#include "ports/data_pool.hpp"
#include "ports/port_log.hpp"
#include "ports/slice_limits.hpp"
#include "registry/limits.hpp"
#include "registry/service_segment.hpp"
#include "segment/channel_protocol.hpp"
#include "segment/port_view.hpp"
#include "shm/atomics.hpp"
#include "shm/doorbell.hpp"

namespace floe::detail {
namespace {

constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);
constexpr std::uint64_t kMaxRequestId = (std::uint64_t{1} << 48) - 1;
constexpr std::uint64_t kRequestIdBlock = 256;

ChunkView view_of(std::byte* chunk, const ChunkShape& shape) noexcept {
  return ChunkView{chunk, chunk + shape.user_header_offset, chunk + shape.payload_offset};
}

}  // namespace

ClientCore::ClientCore(std::shared_ptr<ServiceSegment> segment, std::uint32_t max_active_requests,
                       Backpressure backpressure, SlicePolicy slices)
    : segment_(std::move(segment)),
      damaged_(&segment_->damaged_flag()),
      max_slice_len_(port_max_slice_len(*segment_, SliceSide::request, slices)),
      port_(
          std::make_unique<const ClientPortView>(segment_->view(), segment_->claim_client_slot())),
      id_(make_port_id(port_->slot(), load(port_->record()->generation))),
      max_active_(max_active_requests),
      backpressure_(backpressure),
      pending_(segment_->limits().max_active_requests_per_client),
      server_generation_(std::size_t{segment_->limits().max_active_requests_per_client} *
                         segment_->limits().max_servers),
      next_sequence_(server_generation_.size()),
      known_request_head_(segment_->limits().max_servers),
      stream_operations_(segment_->limits().max_active_requests_per_client) {
  const SegmentLayout& layout = segment_->layout();
  loanable_slice_len_ = max_slice_len_;
  if (max_slice_len_ != 0 && slices.strategy != AllocationStrategy::fixed) {
    loanable_slice_len_ = kMaxSliceLen;
    const ClientPortView* port = port_.get();
    data_pool_ = std::make_unique<DataPool>(
        *segment_, DataSegmentKind::request, port->slot(), load(port->record()->generation),
        slices.strategy, [port](std::uint64_t slot) {
          std::uint32_t& state = *port->chunk_state(static_cast<std::uint32_t>(slot));
          if (load(state) == static_cast<std::uint32_t>(RequestChunkState::bound)) {
            // A sent request's chunk comes back lazily (try_loan collects it when it finds no
            // free one): collected now, or a segment whose requests every server let go of
            // would look held, and a client that keeps growing would be refused at 8.
            collect_client_channels(port->segment(), port->slot());
          }
          return load(state) == static_cast<std::uint32_t>(RequestChunkState::free);
        });
    request_elements_.resize(layout.request_chunks_per_client());
    reserve_or_release(*data_pool_, slices.max_len, max_slice_len_, [this] {
      data_pool_.reset();  // as the destructor does
      segment_->release_client_slot(port_->slot());
    });
  }
  if (layout.response_slice_capacity() != 0) {
    data_mappings_ = std::make_unique<DataMappings>(*segment_, DataSegmentKind::response);
    response_mapping_.resize(std::size_t{layout.limits().max_active_requests_per_client} *
                             layout.limits().max_servers * layout.response_chunks_per_channel());
  }
}

ClientCore::~ClientCore() {
  data_pool_.reset();  // its segments unlinked while the slot is still this client's
  segment_->release_client_slot(port_->slot());
}

DoorbellWords ClientCore::doorbell() const noexcept {
  PortRecord* self = port_->record();
  return DoorbellWords{&self->waiting, &self->doorbell};
}

void ClientCore::describe_damage(Failure& failure) const {
  failure.set(Errc::corrupted, segment_->damage_message());
}

ChunkView ClientCore::chunk_view(std::uint32_t chunk) const noexcept {
  ChunkView view = view_of(port_->chunk(chunk), port_->segment().layout().request_shape());
  if (!request_elements_.empty() && request_elements_[chunk] != nullptr) [[unlikely]] {
    view.payload = request_elements_[chunk];
  }
  return view;
}

ChunkView ClientCore::loan(std::uint32_t& chunk) {
  if (damaged()) segment_->throw_damaged();
  const StoredLimits& limits = port_->limits();
  if (loaned_ >= limits.max_loaned_requests) {
    log_limit_once(limits_logged_, PortLimit::max_loaned_requests, limits.max_loaned_requests,
                   *segment_, "client", port_->slot());
    throw Error(Errc::exceeds_max_loans,
                limit_reached_message("the client", LimitId::max_loaned_requests,
                                      limits.max_loaned_requests, "requests loaned",
                                      "send or drop a loaned request first"));
  }
  if (!try_loan(chunk)) {
    log_limit_once(limits_logged_, PortLimit::request_chunks, 0, *segment_, "client",
                   port_->slot());
    throw Error(Errc::exceeds_max_loans,
                "floe: every request chunk of the client is loaned or held by a server; drop a "
                "PendingResponse or a Response, or wait for servers to end their requests. " +
                    how_to_raise(LimitId::max_active_requests_per_client));
  }
  return chunk_view(chunk);
}

bool ClientCore::try_loan(std::uint32_t& chunk) noexcept {
  if (damaged()) return false;
  if (loaned_ >= port_->limits().max_loaned_requests) return false;
  const std::uint32_t chunks = port_->segment().layout().request_chunks_per_client();
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint32_t j = 0; j < chunks; ++j) {
      const std::uint32_t i = (next_chunk_ + j) % chunks;
      auto expected = static_cast<std::uint32_t>(RequestChunkState::free);
      if (compare_exchange(*port_->chunk_state(i), expected,
                           static_cast<std::uint32_t>(RequestChunkState::loaned))) {
        next_chunk_ = i + 1;
        ++loaned_;
        chunk = i;
        // Both message headers are the core's to write; the request id comes with send.
        const RequestHeader header{id_, 0};
        std::memcpy(chunk_view(i).header, &header, sizeof header);
        return true;
      }
    }
    // Chunks of requests that every holder has let go of are freed lazily, here.
    collect_client_channels(port_->segment(), port_->slot());
  }
  return false;
}

void ClientCore::check_slice_length(std::uint64_t length) const {
  if (length > loanable_slice_len_) {
    throw_exceeds_max_slice_len(*segment_, SliceSide::request, port_->slot(), length,
                                loanable_slice_len_, data_pool_ != nullptr);
  }
}

void ClientCore::place_request_slice(ChunkView& view, std::uint32_t chunk, std::uint64_t length) {
  const SegmentLayout& layout = port_->segment().layout();
  std::uint32_t number = 0;
  if (length > layout.request_slice_capacity()) {
    try {
      view.payload = data_pool_->place(request_data_slot(chunk), length, number);
    } catch (...) {
      release_loan(chunk);
      throw;
    }
  }
  if (data_pool_) {
    request_elements_[chunk] = number != 0 ? view.payload : nullptr;
    // loan() gave where the chunk's last slice was: inline now, whatever it was then.
    if (number == 0) {
      view.payload = view_of(view.header, layout.request_shape()).payload;
      data_pool_->note_inline_loan(request_data_slot(chunk));
    }
  }
  write_slice_descriptor(view.header, layout.request_shape(), length, number);
  view.length = length;
}

ChunkView ClientCore::loan(std::uint32_t& chunk, std::uint64_t length) {
  check_slice_length(length);
  ChunkView view = loan(chunk);
  place_request_slice(view, chunk, length);
  return view;
}

bool ClientCore::try_loan(std::uint32_t& chunk, std::uint64_t length, Failure& failure) noexcept {
  if (length > loanable_slice_len_) {
    record_slice_too_long(*this, length, failure);
    return true;
  }
  if (!try_loan(chunk)) return false;
  ChunkView view = chunk_view(chunk);
  try {
    place_request_slice(view, chunk, length);
  } catch (...) {
    record_current_exception(failure);  // the loan was given back
  }
  return true;
}

void ClientCore::release_loan(std::uint32_t chunk) noexcept {
  store(*port_->chunk_state(chunk), static_cast<std::uint32_t>(RequestChunkState::free));
  --loaned_;
  notify_slot_freed();
}

void ClientCore::notify_slot_freed() const noexcept {
  // Rings this client's own doorbell, which the waiting operation's loop sleeps on; a plain
  // list check when nobody waits.
  if (!slot_operations_.empty()) ring(doorbell());
}

std::uint32_t ClientCore::send(std::uint32_t chunk) {
  std::uint32_t channel = 0;
  Failure failure;
  if (!try_send(chunk, channel, failure)) {
    if (failure) failure.raise();
    log_limit_once(limits_logged_, PortLimit::max_active_requests, max_active_, *segment_, "client",
                   port_->slot());
    throw Error(Errc::exceeds_max_active_requests,
                port_limit_reached_message(
                    "the client", "max_active_requests", max_active_,
                    LimitId::max_active_requests_per_client,
                    port_->limits().max_active_requests_per_client, "requests open",
                    "drop a PendingResponse whose request is done, or co_await async_send() to "
                    "wait for one to end"));
  }
  return channel;
}

bool ClientCore::try_send(std::uint32_t chunk, std::uint32_t& channel, Failure& failure) {
  if (damaged()) {
    describe_damage(failure);
    return false;
  }
  const StoredLimits& limits = port_->limits();
  // Nobody reads the answers to a request whose PendingResponse is gone: with fire-and-forget
  // off, it is withdrawn from servers that have not taken it before its channel is reused.
  const bool withdraw_unreceived = !limits.enable_fire_and_forget_requests;
  channel = max_active_;
  const bool any_orphans = orphaned_channels_ != 0;
  for (std::uint32_t j = 0; j < max_active_; ++j) {
    const std::uint32_t k = (next_channel_ + j) % max_active_;
    // Responses that outlived their PendingResponse still hold this channel's chunks.
    if (any_orphans && pending_[k].orphans != 0) continue;
    if (release_unheld_channel(port_->segment(), port_->slot(), k, withdraw_unreceived)) {
      channel = k;
      break;
    }
  }
  if (channel == max_active_) return false;
  next_channel_ = channel + 1;

  if (next_request_id_ == request_ids_end_) {
    // Ids are taken from the slot's counter a block at a time: the counter shares its cache
    // line with what servers read of this client, and a write per request would pull it away
    // from them on every message.
    next_request_id_ = fetch_add(port_->record()->next_request_id, kRequestIdBlock);
    request_ids_end_ = next_request_id_ + kRequestIdBlock;
  }
  const std::uint64_t request_id = next_request_id_++;
  if (request_id == 0 || request_id > kMaxRequestId) {
    next_request_id_ = request_ids_end_;
    log_corrupted(*segment_, "client", port_->slot(),
                  "its request counter in shared memory was overwritten; the send fails");
    failure.set(Errc::corrupted, "floe: the client's request counter was overwritten");
    return false;
  }
  const RequestHeader header{id_, request_id};
  std::memcpy(chunk_view(chunk).header, &header, sizeof header);
  store(*port_->chunk_state(chunk), static_cast<std::uint32_t>(RequestChunkState::bound));
  --loaned_;

  ClientChannel* record = port_->channel(channel);
  store(record->request_id, request_id);
  store(record->chunk, chunk);
  store(record->pending_alive, kPendingAlive);

  PendingState& pending = pending_[channel];
  pending = PendingState{.request_id = request_id};
  const std::uint64_t entry = pack_entry(request_id, channel);
  for (std::uint32_t s = 0; s < limits.max_servers; ++s) {
    next_sequence_[std::size_t{channel} * limits.max_servers + s] = 0;
    PortRecord* server = port_->segment().server(s);
    if (load(server->state) != kActive) continue;
    const std::uint32_t generation = load(server->generation);
    const ResponseChannel response = port_->response_channel(s, channel);
    open_request(response, request_id);
    IndexQueue queue = port_->request_queue(s);
    std::uint64_t& known_head = known_request_head_[s];
    QueueStatus status = queue.push(entry, known_head);
    // A channel is in at most one place of each queue and the queue holds one entry per
    // channel, so it is full only when a peer has written into it. Waiting for room
    // (Backpressure::block) would then wait for as long as that peer likes: the request is
    // withdrawn from this server instead, as with Backpressure::discard.
    if (status == QueueStatus::full && limits.enable_safe_overflow_for_requests) {
      const QueueResult result = queue.push_overwriting(entry);
      if (result.evicted) withdraw_queued_request(port_->segment(), port_->slot(), s, result.value);
      status = result.status;
    }
    if (status == QueueStatus::ok) {
      ring(DoorbellWords{&server->waiting, &server->doorbell});
      pending.delivered |= std::uint64_t{1} << s;
      server_generation_[std::size_t{channel} * limits.max_servers + s] = generation;
    } else {
      withdraw_request(response, request_id);
    }
  }
  notify_slot_freed();  // the loan came free
  return true;
}

ChunkView ClientCore::request_of(std::uint32_t channel) const noexcept {
  const SegmentView& segment = port_->segment();
  const std::uint32_t chunk = segment.bound_chunk(*port_->channel(channel));
  if (chunk == kNoChunk) return ChunkView{};
  ChunkView view = chunk_view(chunk);
  if (segment.layout().request_shape().slice_offset != 0) {
    // What this client wrote, unless a peer rewrote it since: bounded by the chunk either way.
    const SliceRef ref = segment.request_slice(port_->slot(), chunk);
    view.length = ref.length == kBadLength ? 0 : ref.length;
    // Elements in a data segment: only as long as this client put them there itself.
    if (ref.segment != 0 && (request_elements_.empty() || request_elements_[chunk] == nullptr)) {
      view.length = 0;
    }
  }
  return view;
}

std::optional<ClientCore::Received> ClientCore::try_receive(std::uint32_t channel,
                                                            Failure& failure) {
  if (damaged()) {
    describe_damage(failure);
    return std::nullopt;
  }
  PendingState& pending = pending_[channel];
  const StoredLimits& limits = port_->limits();
  if (pending.borrowed >= limits.max_borrowed_responses_per_pending_response) {
    log_limit_once(limits_logged_, PortLimit::max_borrowed_responses,
                   limits.max_borrowed_responses_per_pending_response, *segment_, "client",
                   port_->slot());
    failure.set(Errc::exceeds_max_loans,
                limit_reached_message("the pending response",
                                      LimitId::max_borrowed_responses_per_pending_response,
                                      limits.max_borrowed_responses_per_pending_response,
                                      "responses held", "drop a Response it gave first"));
    return std::nullopt;
  }
  const std::uint64_t live = pending.delivered & ~pending.ended;
  const std::uint32_t servers = limits.max_servers;
  for (std::uint32_t j = 0; j < servers && live != 0; ++j) {
    const std::uint32_t s = (pending.next_server + j) % servers;
    if ((live & (std::uint64_t{1} << s)) == 0) continue;
    const ResponseChannel response = port_->response_channel(s, channel);
    IndexQueue queue = response.queue();
    for (std::uint32_t n = 0; n < queue.capacity(); ++n) {
      const QueueResult r = queue.pop();
      if (r.status == QueueStatus::empty) break;
      const std::uint32_t chunk = response.response_chunk_of(r.value);
      if (r.status == QueueStatus::corrupted || chunk == kNoChunk) {
        // What a peer scribbled cannot be trusted: that server's stream ends here.
        log_corrupted(*segment_, "client", port_->slot(),
                      "a server's response queue holds what no correct server writes; that "
                      "server's stream of the request ends here");
        pending.closed |= std::uint64_t{1} << s;
        pending.ended |= std::uint64_t{1} << s;
        break;
      }
      if (entry_request_id(r.value) != pending.request_id) {
        // A late answer to an earlier request on this channel.
        release_response_chunk(response, chunk, ResponseChunkState::queued);
        continue;
      }
      const ChunkShape& shape = port_->segment().layout().response_shape();
      // A slice's length is read once, here, and only this checked copy is used after.
      const SliceRef slice =
          shape.slice_offset != 0 ? response.response_slice_of(chunk) : SliceRef{};
      if (slice.length == kBadLength) {
        log_corrupted(*segment_, "client", port_->slot(),
                      "a server's response holds a slice length larger than its chunk; that "
                      "server's stream of the request ends here");
        release_response_chunk(response, chunk, ResponseChunkState::queued);
        pending.closed |= std::uint64_t{1} << s;
        pending.ended |= std::uint64_t{1} << s;
        break;
      }
      store(*response.chunk_state(chunk), static_cast<std::uint32_t>(ResponseChunkState::borrowed));
      // A server may wait for exactly this room (Backpressure::block, an awaited send).
      if (r.producer_waits) ring_server(s);
      ++pending.borrowed;
      pending.next_server = s + 1;
      ChunkView view = view_of(response.chunk(chunk), shape);
      view.length = slice.length;
      if (slice.segment != 0 && !hold_response_elements(channel, s, chunk, slice, view, failure))
          [[unlikely]] {
        release_response_chunk(response, chunk, ResponseChunkState::borrowed);
        --pending.borrowed;
        pending.closed |= std::uint64_t{1} << s;
        pending.ended |= std::uint64_t{1} << s;
        break;
      }
      // The header shares its cache line with the state word just written: no extra transfer.
      // A server numbers what it delivers 0, 1, 2, ...; what safe overflow evicted is a gap.
      // (A peer writing garbage can make the count wrong, never the memory accesses.)
      std::uint64_t sequence = 0;
      std::memcpy(&sequence, view.header + offsetof(ResponseHeader, sequence_number),
                  sizeof sequence);
      std::uint64_t& expected = next_sequence_[std::size_t{channel} * servers + s];
      if (sequence >= expected) {
        pending.overwritten += sequence - expected;
        expected = sequence + 1;
      }
      return Received{view, s, chunk};
    }
  }
  return std::nullopt;
}

bool ClientCore::hold_response_elements(std::uint32_t channel, std::uint32_t s, std::uint32_t chunk,
                                        const SliceRef& ref, ChunkView& view, Failure& failure) {
  const SegmentLayout& layout = port_->segment().layout();
  const std::uint32_t generation =
      server_generation_[std::size_t{channel} * layout.limits().max_servers + s];
  DataMappings::Held held;
  try {
    held =
        data_mappings_->hold(s, generation, ref.segment,
                             response_data_slot(layout, port_->slot(), channel, chunk), ref.length);
  } catch (const Error& e) {
    failure.set(Errc::out_of_memory, e.what());  // mapping failed: address space, descriptors
    return false;
  }
  if (held.outcome == DataMappings::Held::Outcome::gone) return false;
  if (held.outcome == DataMappings::Held::Outcome::refused) {
    const std::string what =
        "a server's response " + held.problem + "; that server's stream of the request ends here";
    log_corrupted(*segment_, "client", port_->slot(), what.c_str());
    return false;
  }
  view.payload = const_cast<std::byte*>(held.payload);
  response_mapping_[(std::size_t{channel} * layout.limits().max_servers + s) *
                        layout.response_chunks_per_channel() +
                    chunk] = held.mapping;
  return true;
}

void ClientCore::release_response(std::uint32_t channel, std::uint32_t server,
                                  std::uint32_t chunk) noexcept {
  if (!response_mapping_.empty()) {
    const SegmentLayout& layout = port_->segment().layout();
    DataMapping*& held =
        response_mapping_[(std::size_t{channel} * layout.limits().max_servers + server) *
                              layout.response_chunks_per_channel() +
                          chunk];
    if (held != nullptr) [[unlikely]] {
      data_mappings_->release(held);
      held = nullptr;
    }
  }
  release_response_chunk(port_->response_channel(server, channel), chunk,
                         ResponseChunkState::borrowed);
  PendingState& pending = pending_[channel];
  if (pending.orphans == 0) [[likely]] {
    --pending.borrowed;
    return;
  }
  release_orphan(pending);
}

void ClientCore::release_orphan(PendingState& pending) noexcept {
  // The last response that outlived its PendingResponse frees the channel, then this core.
  if (--pending.orphans != 0) return;
  notify_slot_freed();
  if (--orphaned_channels_ == 0) {
    const std::shared_ptr<ClientCore> last = std::move(kept_alive_);  // may end this core
  }
}

void ClientCore::orphan_responses(PendingState& pending) noexcept {
  // Responses still borrowed outlive their PendingResponse: they keep the channel, and this
  // core (a Client may be gone too), until the last of them goes (release_orphan).
  pending.orphans = pending.borrowed;
  pending.borrowed = 0;
  if (orphaned_channels_++ == 0) kept_alive_ = shared_from_this();
}

bool ClientCore::has_response(std::uint32_t channel) const noexcept {
  if (damaged()) return false;
  // A closed server's queue may still hold what it sent before the end: only `ended` (closed
  // and drained) rules a server out.
  const PendingState& pending = pending_[channel];
  const std::uint64_t live = pending.delivered & ~pending.ended;
  for (std::uint32_t s = 0; s < port_->limits().max_servers; ++s) {
    if ((live & (std::uint64_t{1} << s)) == 0) continue;
    if (!port_->response_channel(s, channel).queue().empty()) return true;
  }
  return false;
}

void ClientCore::set_disconnect_hint(std::uint32_t channel) noexcept {
  if (damaged()) return;
  detail::set_disconnect_hint(*port_->channel(channel));
}

void ClientCore::check_size() noexcept {
  segment_->check_size();
}

void ClientCore::update_ended(std::uint32_t channel, bool check_liveness) noexcept {
  PendingState& pending = pending_[channel];
  if (check_liveness) check_size();
  if (damaged()) {  // nobody can answer through it any more
    pending.closed = pending.ended = pending.vanished = pending.delivered;
    return;
  }
  const StoredLimits& limits = port_->limits();
  for (std::uint32_t s = 0; s < limits.max_servers; ++s) {
    const std::uint64_t bit = std::uint64_t{1} << s;
    if ((pending.delivered & ~pending.ended & bit) == 0) continue;
    const ResponseChannel response = port_->response_channel(s, channel);
    if ((pending.closed & bit) == 0) {
      PortRecord* server = port_->segment().server(s);
      // Read before the server's state: a port that goes is marked free before its requests
      // are reset, so an open request on a gone server is one it never ended.
      const bool request_open = is_request_open(response, pending.request_id);
      bool gone = load(server->state) != kActive ||
                  load(server->generation) !=
                      server_generation_[std::size_t{channel} * limits.max_servers + s];
      if (request_open && !gone && check_liveness && !segment_->is_port_owner_alive(*server)) {
        if (const auto owner = segment_->port_owner(*server)) {
          log_peer_dead(*segment_, "client", port_->slot(), "server", s, owner->pid,
                        "its stream of the request ends");
        }
        segment_->reclaim_dead_nodes();
        gone = true;
      }
      if (request_open && !gone) continue;
      pending.closed |= bit;
      // Open when the server went, or marked so by whoever reclaimed it first.
      if (request_open || did_server_go(response, pending.request_id)) pending.vanished |= bit;
    }
    // The queue is looked at only after the close was seen: a server pushes its last response
    // before it closes, so a closed stream with an empty queue has nothing more.
    if (response.queue().empty()) pending.ended |= bit;
  }
}

bool ClientCore::is_connected(std::uint32_t channel, bool check_liveness) noexcept {
  if (damaged()) return false;
  update_ended(channel, check_liveness);
  return (pending_[channel].delivered & ~pending_[channel].closed) != 0;
}

bool ClientCore::stream_ended(std::uint32_t channel, bool check_liveness) noexcept {
  update_ended(channel, check_liveness);
  return (pending_[channel].delivered & ~pending_[channel].ended) == 0;
}

void ClientCore::watch_servers(std::uint32_t channel, WakeSources& sources) const {
  const PendingState& pending = pending_[channel];
  for (std::uint32_t s = 0; s < port_->limits().max_servers; ++s) {
    // A closed server's responses are already in its queue: its process no longer matters.
    if ((pending.delivered & ~pending.closed & (std::uint64_t{1} << s)) == 0) continue;
    if (auto owner = segment_->port_owner(*port_->segment().server(s))) sources.process(*owner);
  }
}

std::uint32_t ClientCore::number_of_server_connections(std::uint32_t channel) noexcept {
  update_ended(channel, true);
  return static_cast<std::uint32_t>(
      std::popcount(pending_[channel].delivered & ~pending_[channel].closed));
}

StreamEnd ClientCore::end_reason(std::uint32_t channel) noexcept {
  const PendingState& pending = pending_[channel];
  if (pending.delivered == 0) return StreamEnd::no_server;  // known at send, no look needed
  update_ended(channel, true);
  if ((pending.delivered & ~pending.closed) != 0) return StreamEnd::open;
  return pending.vanished != 0 ? StreamEnd::server_gone : StreamEnd::finished;
}

std::uint32_t ClientCore::number_of_servers() const noexcept {
  if (damaged()) return 0;
  std::uint32_t servers = 0;
  for (std::uint32_t s = 0; s < port_->limits().max_servers; ++s) {
    servers += load(port_->segment().server(s)->state) == kActive;
  }
  return servers;
}

std::uint32_t ClientCore::number_of_live_servers() noexcept {
  if (damaged()) return 0;
  std::uint32_t live = 0;
  bool found_dead = false;
  for (std::uint32_t s = 0; s < port_->limits().max_servers; ++s) {
    PortRecord* server = port_->segment().server(s);
    if (load(server->state) != kActive) continue;
    if (segment_->is_port_owner_alive(*server)) {
      ++live;
      continue;
    }
    if (const auto owner = segment_->port_owner(*server)) {
      log_peer_dead(*segment_, "client", port_->slot(), "server", s, owner->pid,
                    "it does not count as a server");
    }
    found_dead = true;
  }
  if (found_dead) segment_->reclaim_dead_nodes();
  return live;
}

void ClientCore::ring_server(std::uint32_t server) const noexcept {
  PortRecord* record = port_->segment().server(server);
  ring(DoorbellWords{&record->waiting, &record->doorbell});
}

void ClientCore::drop_pending(std::uint32_t channel) noexcept {
  stream_operations_[channel].cancel_all();
  PendingState& pending = pending_[channel];
  store(port_->channel(channel)->pending_alive, 0u);
  // Responses delivered but never read go back to their servers now rather than later.
  for (std::uint32_t s = 0; s < port_->limits().max_servers; ++s) {
    if ((pending.delivered & (std::uint64_t{1} << s)) == 0) continue;
    const ResponseChannel response = port_->response_channel(s, channel);
    // A server waiting for room must learn that nobody listens any more.
    const bool server_may_wait = response.queue().producer_waiting();
    discard_queued_responses(response);
    if (server_may_wait) ring_server(s);
  }
  pending.delivered = 0;
  if (pending.borrowed != 0) [[unlikely]] {
    orphan_responses(pending);
    return;
  }
  notify_slot_freed();  // the channel is free unless a server still holds the request
}

}  // namespace floe::detail
