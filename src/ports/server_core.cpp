#include <chrono>
#include <cstring>

#include "floe/detail/ports.hpp"
#include "floe/error.hpp"
#include "platform/cpu_relax.hpp"
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

ChunkView view_of(std::byte* chunk, const ChunkShape& shape) noexcept {
  return ChunkView{chunk, chunk + shape.user_header_offset, chunk + shape.payload_offset};
}

}  // namespace

ServerCore::ServerCore(std::shared_ptr<ServiceSegment> segment,
                       std::uint32_t max_loaned_responses_per_request, Backpressure backpressure,
                       SlicePolicy slices)
    : segment_(std::move(segment)),
      damaged_(&segment_->damaged_flag()),
      max_slice_len_(port_max_slice_len(*segment_, SliceSide::response, slices)),
      port_(
          std::make_unique<const ServerPortView>(segment_->view(), segment_->claim_server_slot())),
      id_(make_port_id(port_->slot(), load(port_->record()->generation))),
      max_loaned_per_request_(max_loaned_responses_per_request),
      backpressure_(backpressure),
      loaned_(std::size_t{segment_->limits().max_clients} *
              segment_->limits().max_active_requests_per_client),
      next_chunk_(loaned_.size()),
      known_head_(loaned_.size()),
      sequence_(loaned_.size()),
      departures_seen_(departures_rung(*port_->record())),
      departed_(segment_->limits().max_clients),
      waiting_for_room_(loaned_.size()),
      ending_(loaned_.size()),
      stream_operations_(loaned_.size()) {
  const SegmentLayout& layout = segment_->layout();
  loanable_slice_len_ = max_slice_len_;
  if (max_slice_len_ != 0 && slices.strategy != AllocationStrategy::fixed) {
    loanable_slice_len_ = kMaxSliceLen;
    const ServerPortView* port = port_.get();
    const std::uint64_t chunks = layout.response_chunks_per_channel();
    const std::uint64_t active = layout.limits().max_active_requests_per_client;
    data_pool_ = std::make_unique<DataPool>(
        *segment_, DataSegmentKind::response, port->slot(), load(port->record()->generation),
        slices.strategy, [port, chunks, active](std::uint64_t slot) {
          // The inverse of response_data_slot.
          const auto client = static_cast<std::uint32_t>(slot / (active * chunks));
          const auto channel = static_cast<std::uint32_t>(slot / chunks % active);
          const auto chunk = static_cast<std::uint32_t>(slot % chunks);
          return load(*port->response_channel(client, channel).chunk_state(chunk)) ==
                 static_cast<std::uint32_t>(ResponseChunkState::free);
        });
    reserve_or_release(*data_pool_, slices.max_len, max_slice_len_, [this] {
      data_pool_.reset();  // as the destructor does
      segment_->release_server_slot(port_->slot());
    });
  }
  if (layout.request_slice_capacity() != 0) {
    data_mappings_ = std::make_unique<DataMappings>(*segment_, DataSegmentKind::request);
  }
}

ServerCore::~ServerCore() {
  data_pool_.reset();  // its segments unlinked while the slot is still this server's
  segment_->release_server_slot(port_->slot());
}

std::size_t ServerCore::stream_index(const Active& active) const noexcept {
  return std::size_t{active.client} * port_->limits().max_active_requests_per_client +
         active.channel;
}

void ServerCore::describe_damage(Failure& failure) const {
  failure.set(Errc::corrupted, segment_->damage_message());
}

std::optional<ServerCore::Active> ServerCore::try_receive(Failure& failure) {
  if (damaged()) {
    describe_damage(failure);
    return std::nullopt;
  }
  const std::uint32_t clients = port_->limits().max_clients;
  if (departures_rung(*port_->record()) != departures_seen_) note_departed_clients();
  // A departed client's requests are the oldest work: all of them before anyone else's.
  for (std::uint32_t c = 0; departed_count_ != 0 && c < clients; ++c) {
    if (departed_[c] == 0) continue;
    if (auto active = take_from(c, true)) return active;
    departed_[c] = 0;
    --departed_count_;
  }
  for (std::uint32_t j = 0; j < clients; ++j) {
    const std::uint32_t c = (next_client_ + j) % clients;
    if (auto active = take_from(c, false)) {
      next_client_ = c + 1;
      return active;
    }
  }
  return std::nullopt;
}

std::optional<ServerCore::Active> ServerCore::take_from(std::uint32_t client, bool only_departed) {
  const SegmentView& segment = port_->segment();
  IndexQueue queue = port_->request_queue(client);
  for (std::uint32_t n = 0; n < queue.capacity(); ++n) {
    if (only_departed && !queue.next_is_from_departed_producer()) break;
    const QueueResult r = queue.pop();
    if (r.status != QueueStatus::ok) break;
    const auto taken = take_queued_request(*port_, client, r.value);
    if (!taken) continue;
    const ChunkShape& shape = segment.layout().request_shape();
    // A slice's length is read once, here, and only this checked copy is used after.
    const SliceRef slice =
        shape.slice_offset != 0 ? segment.request_slice(client, taken->chunk) : SliceRef{};
    if (slice.length == kBadLength) {
      refuse_request(client, taken->channel, taken->request_id,
                     "a client's request holds a slice length larger than its chunk");
      continue;
    }
    ChunkView request = view_of(segment.request_chunk(client, taken->chunk), shape);
    request.length = slice.length;
    Active active{client, taken->channel, taken->request_id,
                  make_port_id(client, load(segment.client(client)->generation)), request};
    if (slice.segment != 0 && !hold_request_elements(active, taken->chunk, slice)) [[unlikely]] {
      continue;
    }
    sequence_[std::size_t{client} * port_->limits().max_active_requests_per_client +
              taken->channel] = 0;
    return active;
  }
  return std::nullopt;
}

void ServerCore::note_departed_clients() noexcept {
  // Seen first, looked at after: a departure rung while this looks is looked for again.
  departures_seen_ = departures_rung(*port_->record());
  for (std::uint32_t c = 0; c < port_->limits().max_clients; ++c) {
    // The queue itself says how far the departed client's requests go: a new client that took
    // its slot meanwhile pushes after them and waits its turn.
    if (departed_[c] != 0 || !port_->request_queue(c).next_is_from_departed_producer()) continue;
    departed_[c] = 1;
    ++departed_count_;
  }
}

DoorbellWords ServerCore::doorbell() const noexcept {
  PortRecord* self = port_->record();
  return DoorbellWords{&self->waiting, &self->doorbell};
}

bool ServerCore::has_requests() const noexcept {
  for (std::uint32_t c = 0; c < port_->limits().max_clients; ++c) {
    if (!port_->request_queue(c).empty()) return true;
  }
  return false;
}

bool ServerCore::hold_request_elements(Active& active, std::uint32_t chunk, const SliceRef& ref) {
  DataMappings::Held held;
  try {
    held = data_mappings_->hold(active.client, static_cast<std::uint32_t>(active.client_id >> 32),
                                ref.segment, request_data_slot(chunk), ref.length);
  } catch (const Error& e) {
    held.problem = std::string("could not be mapped: ") + e.what();
  }
  if (held.outcome == DataMappings::Held::Outcome::held) {
    active.request.payload = const_cast<std::byte*>(held.payload);
    active.request_elements = held.mapping;
    return true;
  }
  const std::string why = held.outcome == DataMappings::Held::Outcome::gone
                              ? std::string(
                                    "a client that is gone sent a request in a data "
                                    "segment that is gone too")
                              : "a client's request " + held.problem;
  refuse_request(active.client, active.channel, active.request_id, why.c_str());
  return false;
}

void ServerCore::check_slice_length(std::uint64_t length) const {
  if (length > loanable_slice_len_) {
    throw_exceeds_max_slice_len(*segment_, SliceSide::response, port_->slot(), length,
                                loanable_slice_len_, data_pool_ != nullptr);
  }
}

void ServerCore::place_response_slice(const Active& active, std::uint32_t chunk,
                                      std::uint64_t length, ChunkView& view) {
  const SegmentLayout& layout = port_->segment().layout();
  std::uint32_t number = 0;
  if (length > layout.response_slice_capacity()) {
    try {
      view.payload = data_pool_->place(
          response_data_slot(layout, active.client, active.channel, chunk), length, number);
    } catch (...) {
      release_loan(active, chunk);
      throw;
    }
  } else if (data_pool_) {
    data_pool_->note_inline_loan(response_data_slot(layout, active.client, active.channel, chunk));
  }
  write_slice_descriptor(view.header, layout.response_shape(), length, number);
  view.length = length;
}

ChunkView ServerCore::loan(const Active& active, std::uint32_t& chunk, std::uint64_t length) {
  check_slice_length(length);
  ChunkView view = loan(active, chunk);
  place_response_slice(active, chunk, length, view);
  return view;
}

bool ServerCore::try_loan(const Active& active, std::uint32_t& chunk, std::uint64_t length,
                          ChunkView& view, Failure& failure) noexcept {
  if (length > loanable_slice_len_) {
    record_slice_too_long(*this, length, failure);
    return true;
  }
  if (!try_loan(active, chunk)) return false;
  view = chunk_view(active, chunk);
  try {
    place_response_slice(active, chunk, length, view);
  } catch (...) {
    record_current_exception(failure);  // the loan was given back
  }
  return true;
}

ChunkView ServerCore::loan(const Active& active, std::uint32_t& chunk) {
  if (damaged()) segment_->throw_damaged();
  if (loaned_[stream_index(active)] >= max_loaned_per_request_) {
    log_limit_once(limits_logged_, PortLimit::max_loaned_responses, max_loaned_per_request_,
                   *segment_, "server", port_->slot());
    throw Error(Errc::exceeds_max_loans,
                port_limit_reached_message(
                    "the active request", "max_loaned_responses_per_request",
                    max_loaned_per_request_, LimitId::max_loaned_responses_per_request,
                    port_->limits().max_loaned_responses_per_request, "responses loaned",
                    "send or drop a loaned response first (or await the loan: async_loan)"));
  }
  if (!try_loan(active, chunk)) {
    log_limit_once(limits_logged_, PortLimit::response_chunks, 0, *segment_, "server",
                   port_->slot());
    throw Error(Errc::exceeds_max_loans,
                "floe: every response chunk of this request is queued or held by the client; "
                "wait for the client to receive and drop responses. " +
                    how_to_raise(LimitId::max_response_buffer_size));
  }
  return chunk_view(active, chunk);
}

bool ServerCore::try_loan(const Active& active, std::uint32_t& chunk) noexcept {
  if (damaged()) return false;
  const std::size_t index = stream_index(active);
  std::uint32_t& loaned = loaned_[index];
  if (loaned >= max_loaned_per_request_) return false;
  const ResponseChannel channel = port_->response_channel(active.client, active.channel);
  // Chunks are handed out round-robin: in a long stream the ones just sent are still queued,
  // and the next free one is most likely the one after the last loan.
  std::uint32_t& cursor = next_chunk_[index];
  const std::uint32_t chunks = channel.chunk_count();
  for (std::uint32_t j = 0; j < chunks; ++j) {
    const std::uint32_t i = (cursor + j) % chunks;
    std::uint32_t& state = *channel.chunk_state(i);
    auto expected = static_cast<std::uint32_t>(ResponseChunkState::free);
    if (load(state, std::memory_order_relaxed) == expected &&
        compare_exchange(state, expected, static_cast<std::uint32_t>(ResponseChunkState::loaned))) {
      ++loaned;
      cursor = i + 1;
      chunk = i;
      return true;
    }
  }
  return false;
}

ChunkView ServerCore::chunk_view(const Active& active, std::uint32_t chunk) const noexcept {
  return view_of(port_->response_channel(active.client, active.channel).chunk(chunk),
                 port_->segment().layout().response_shape());
}

void ServerCore::notify_loan_freed(std::size_t stream) const noexcept {
  // Rings this server's own doorbell, which the waiting loan's loop sleeps on.
  if (!stream_operations_[stream].empty()) ring(doorbell());
}

// Inlined into end(), its hot caller.
[[gnu::always_inline]] inline void ServerCore::close_stream(const Active& active,
                                                            std::size_t stream,
                                                            bool as_gone) noexcept {
  const ResponseChannel channel = port_->response_channel(active.client, active.channel);
  IndexQueue queue = channel.queue();
  stop_waiting_for_room(stream, queue);
  // Nobody will read what is still queued: give the chunks back before the channel can be
  // reused (it cannot while this request is open, so no newer response is in the queue).
  if (!client_listens(active)) discard_queued_responses(channel);
  if (as_gone) [[unlikely]] {
    close_request_as_gone(channel, active.request_id);
  } else {
    close_request(channel, active.request_id);
  }
  ring_client(active);
}

void ServerCore::refuse_request(std::uint32_t client, std::uint32_t channel,
                                std::uint64_t request_id, const char* why) noexcept {
  const std::string what =
      std::string(why) + "; the request is refused (its stream from this server ends)";
  log_corrupted(*segment_, "server", port_->slot(), what.c_str());
  const Active refused{client, channel, request_id, 0, {}};
  close_stream(refused, stream_index(refused));
}

void ServerCore::release_loan(const Active& active, std::uint32_t chunk) noexcept {
  store(*port_->response_channel(active.client, active.channel).chunk_state(chunk),
        static_cast<std::uint32_t>(ResponseChunkState::free));
  const std::size_t stream = stream_index(active);
  --loaned_[stream];
  notify_loan_freed(stream);
  if (ending_[stream] != 0) loan_settled(active, stream);
}

void ServerCore::loan_settled(const Active& active, std::size_t stream) noexcept {
  if (loaned_[stream] != 0) return;
  const bool as_gone = ending_[stream] == 2;
  ending_[stream] = 0;
  close_stream(active, stream, as_gone);
  std::shared_ptr<ServerCore> last;  // let go after the lock: it may end this core
  {
    const std::lock_guard lock(ending_mutex_);
    if (--ending_streams_ == 0) last = std::move(kept_alive_);
  }
}

bool ServerCore::client_listens(const Active& active) const noexcept {
  if (damaged()) return false;  // nobody reads what is written to private zeros
  const SegmentView& segment = port_->segment();
  const ClientChannel* channel = segment.client_channel(active.client, active.channel);
  return load(segment.client(active.client)->state) == kActive &&
         load(const_cast<std::uint32_t&>(channel->pending_alive)) != 0 &&
         load(const_cast<std::uint64_t&>(channel->request_id)) == active.request_id;
}

bool ServerCore::has_disconnect_hint(const Active& active) const noexcept {
  if (damaged()) return false;
  const SegmentView& segment = port_->segment();
  return detail::has_disconnect_hint(*segment.client_channel(active.client, active.channel),
                                     active.request_id);
}

void ServerCore::stop_waiting_for_room(std::size_t stream, IndexQueue& queue) noexcept {
  if (waiting_for_room_[stream] != 0) {
    queue.set_producer_waiting(false);
    waiting_for_room_[stream] = 0;
  }
}

ServerCore::SendStatus ServerCore::try_send(const Active& active, std::uint32_t chunk) noexcept {
  const ResponseChannel channel = port_->response_channel(active.client, active.channel);
  const std::size_t stream = stream_index(active);
  if (!client_listens(active)) {
    --loaned_[stream];
    release_response_chunk(channel, chunk, ResponseChunkState::loaned);
    notify_loan_freed(stream);
    if (ending_[stream] != 0) loan_settled(active, stream);
    return SendStatus::not_delivered;
  }
  // Numbered before the push, counted only once delivered: a response refused (send returns
  // false, or waits for room) leaves no gap, only one overwritten in the client's buffer does.
  std::uint64_t& sequence = sequence_[stream];
  const ResponseHeader header{id_, active.request_id, sequence};
  std::memcpy(channel.chunk(chunk), &header, sizeof header);
  // Queued before it is pushed: the client may take it the moment it is in the queue.
  std::uint32_t& state = *channel.chunk_state(chunk);
  store(state, static_cast<std::uint32_t>(ResponseChunkState::queued));
  const std::uint64_t entry = pack_entry(active.request_id, chunk);
  IndexQueue queue = channel.queue();
  QueueStatus status = queue.push(entry, known_head_[stream]);
  if (status == QueueStatus::full && !port_->limits().enable_safe_overflow_for_responses) {
    // A response whose ActiveRequest went never waits for room: nothing would cancel the wait,
    // and its settling may let this core go, which must not happen while an operation waiting
    // in it is listed here. It is refused instead, below.
    if (ending_[stream] == 0) {
      store(state, static_cast<std::uint32_t>(ResponseChunkState::loaned));
      // Whoever calls again before sleeping sees any room the client makes after this.
      if (!waiting_for_room_[stream]) {
        queue.set_producer_waiting(true);
        waiting_for_room_[stream] = 1;
      }
      return SendStatus::no_room;
    }
  } else if (status == QueueStatus::full) {
    const QueueResult result = queue.push_overwriting(entry);
    if (result.evicted) {
      release_response_chunk(channel, entry_index(result.value), ResponseChunkState::queued);
    }
    status = result.status;
  }
  --loaned_[stream];
  notify_loan_freed(stream);
  stop_waiting_for_room(stream, queue);
  if (status != QueueStatus::ok) {
    release_response_chunk(channel, chunk, ResponseChunkState::queued);
    if (ending_[stream] != 0) loan_settled(active, stream);
    return SendStatus::not_delivered;
  }
  ++sequence;
  ring_client(active);
  if (ending_[stream] != 0) loan_settled(active, stream);
  return SendStatus::delivered;
}

ServerCore::SendStatus ServerCore::send(
    const Active& active, std::uint32_t chunk,
    std::optional<Operation::Clock::time_point> deadline) noexcept {
  using namespace std::chrono_literals;
  const DoorbellWords self = doorbell();
  std::uint32_t seen = 0;
  bool announced = false;
  // A client that keeps up makes room within microseconds: look again for a while before
  // paying for a sleep and a wake-up (tens of microseconds each way).
  constexpr int kSpins = 2048;
  SendStatus status = SendStatus::not_delivered;
  for (int spin = 0;; ++spin) {
    status = try_send(active, chunk);
    if (status != SendStatus::no_room) return status;
    if (backpressure_ != Backpressure::block) {
      status = SendStatus::not_delivered;
      break;
    }
    if (spin < kSpins) {
      cpu_relax();
      continue;
    }
    if (!announced) {
      // A client that takes from a full queue rings this server (ClientCore::try_receive):
      // announce before looking again, so that either the look or the ring sees the room.
      // The flag is left set afterwards: an event loop of this thread may have announced on
      // the same doorbell, and clearing it could lose its wake-up; a stale flag costs one
      // futex wake at most.
      seen = announce_sleep(self);
      announced = true;
      continue;
    }
    // Bounded: a client that died without freeing the room is noticed within 50 ms.
    auto sleep = std::chrono::nanoseconds(50ms);
    if (deadline) {
      const auto left = *deadline - Operation::Clock::now();
      if (left <= Operation::Clock::duration::zero()) break;  // no_room: timed out
      sleep = std::min(sleep, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    futex_wait(self.doorbell, seen, sleep);
    announced = false;
    check_size();
    const PortRecord& client = *port_->segment().client(active.client);
    if (!segment_->is_port_owner_alive(client)) {
      if (const auto owner = segment_->port_owner(client)) {
        log_peer_dead(*segment_, "server", port_->slot(), "client", active.client, owner->pid,
                      "the response it waited to send for it is not delivered");
      }
      status = SendStatus::not_delivered;
      break;
    }
  }
  release_loan(active, chunk);
  return status;
}

std::optional<bool> ServerCore::send_once(const Active& active, std::uint32_t chunk) noexcept {
  const SendStatus status = try_send(active, chunk);
  if (status != SendStatus::no_room) return status == SendStatus::delivered;
  if (backpressure_ == Backpressure::block) return std::nullopt;
  release_loan(active, chunk);
  return false;
}

void ServerCore::watch_client(const Active& active, WakeSources& sources) const {
  if (auto owner = segment_->port_owner(*port_->segment().client(active.client))) {
    sources.process(*owner);
  }
}

void ServerCore::ring_client(const Active& active) const noexcept {
  PortRecord* client = port_->segment().client(active.client);
  ring(DoorbellWords{&client->waiting, &client->doorbell});
}

void ServerCore::check_size() noexcept {
  segment_->check_size();
}

bool ServerCore::is_connected(const Active& active) const noexcept {
  segment_->check_size();
  if (!client_listens(active)) return false;
  const PortRecord& client = *port_->segment().client(active.client);
  if (segment_->is_port_owner_alive(client)) return true;
  if (const auto owner = segment_->port_owner(client)) {
    log_peer_dead(*segment_, "server", port_->slot(), "client", active.client, owner->pid,
                  "its request is no longer listened to");
  }
  segment_->reclaim_dead_nodes();
  return false;
}

void ServerCore::end(const Active& active, bool as_gone) noexcept {
  if (active.request_elements != nullptr) [[unlikely]] {
    data_mappings_->release(active.request_elements);
  }
  stream_operations(active).cancel_all();
  const std::size_t stream = stream_index(active);
  if (loaned_[stream] != 0) [[unlikely]] {
    end_later(stream, as_gone);
    return;
  }
  close_stream(active, stream, as_gone);
}

void ServerCore::end_later(std::size_t stream, bool as_gone) noexcept {
  // ResponseMuts outlive their ActiveRequest: the stream stays open for them and ends when the
  // last is sent or given back (loan_settled); they keep this core alive until then.
  ending_[stream] = as_gone ? 2 : 1;
  const std::lock_guard lock(ending_mutex_);
  if (ending_streams_++ == 0) kept_alive_ = shared_from_this();
}

}  // namespace floe::detail
