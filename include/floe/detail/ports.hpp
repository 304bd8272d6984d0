#pragma once
// The compiled core of clients and servers. The typed front ends (client.hpp, server.hpp) only
// add types on top: every shared-memory decision is made here.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <vector>

#include "floe/config.hpp"
#include "floe/detail/failure.hpp"
#include "floe/detail/operation.hpp"
#include "floe/detail/wake_sources.hpp"
#include "floe/header.hpp"
#include "floe/shm_compatible.hpp"
#include "floe/slice.hpp"
#include "floe/stream_end.hpp"

namespace floe::detail {

class ServiceSegment;
class DataPool;
class DataMappings;
struct DataMapping;
class IndexQueue;
class ClientPortView;
class ServerPortView;

template <typename T>
T* object_at(std::byte* at) noexcept {
  return std::launder(reinterpret_cast<T*>(at));
}

/// Where header, user header and payload of a chunk are, as the typed layer needs it.
struct ChunkView {
  std::byte* header = nullptr;
  std::byte* user_header = nullptr;
  std::byte* payload = nullptr;
  /// Elements of a floe::Slice payload: the length loaned, or the length received as the core
  /// validated it (never read from shared memory again). 0 for a fixed payload.
  std::uint64_t length = 0;
};

/// How a port of a service with a floe::Slice payload (a client's requests, a server's
/// responses) bounds its loans.
struct SlicePolicy {
  /// The most elements one loan may hold (the port builder's initial_max_slice_len); 0: the
  /// service's request_max_slice_len / response_max_slice_len. More than the service's:
  /// the core's constructor throws Errc::incompatible_limits.
  std::uint64_t max_len = 0;
  /// What a longer loan does: refuse, or grow the port (floe::AllocationStrategy).
  AllocationStrategy strategy = AllocationStrategy::fixed;
};

// How a loaned payload begins its life: value-initialized (loan()), default-initialized so a
// large trivial payload costs no zero fill (loan_uninit()), or copied in one pass (send_copy()).
struct ValueInitialize {
  template <typename T>
  void operator()(T* at) const {
    std::construct_at(at);
  }
};
struct DefaultInitialize {
  template <typename T>
  void operator()(T* at) const {
    ::new (static_cast<void*>(at)) T;
  }
};
template <typename T>
struct CopyOf {
  const T& value;
  void operator()(T* at) const { std::construct_at(at, value); }
};

/// The typed layer's part of a loan (the core wrote the header): the user header is
/// value-initialized, the payload begins as `begin_payload` says.
template <typename UserHeader, typename Payload, typename BeginPayload>
void begin_chunk(const ChunkView& view, BeginPayload begin_payload) {
  if constexpr (!std::is_same_v<UserHeader, NoUserHeader>) {
    std::construct_at(reinterpret_cast<UserHeader*>(view.user_header));
  }
  begin_payload(reinterpret_cast<Payload*>(view.payload));
}

struct SliceRef;

class ClientCore : public std::enable_shared_from_this<ClientCore> {
 public:
  ClientCore(std::shared_ptr<ServiceSegment> segment, std::uint32_t max_active_requests,
             Backpressure backpressure, SlicePolicy slices = {});
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;
  ~ClientCore();

  ClientId id() const noexcept { return id_; }
  std::uint32_t max_active_requests() const noexcept { return max_active_; }
  Backpressure backpressure() const noexcept { return backpressure_; }
  /// The server ports of the service now: a load of each server slot's state, no syscall (a
  /// server whose process died counts until its port is reclaimed).
  std::uint32_t number_of_servers() const noexcept;
  /// The server ports whose processes are alive: a waiter's question, not the hot path (a
  /// liveness syscall per server port). Reclaims the ports of dead processes it meets, so a
  /// killed server nobody cleaned up after yet does not count as "a server is there".
  std::uint32_t number_of_live_servers() noexcept;
  /// Another process shrank the segment under this one: every call below throws (or records)
  /// Errc::corrupted, or reports nothing connected.
  bool damaged() const noexcept { return damaged_->load(std::memory_order_relaxed); }
  /// Records the Errc::corrupted that says so, with the service's name and segment.
  void describe_damage(Failure& failure) const;
  /// Looks whether the segment was shrunk where this process has not touched it (a syscall):
  /// for the moments liveness is looked at, never the hot path.
  void check_size() noexcept;

  /// A free request chunk with its RequestHeader written (this client's id, request id 0 until
  /// sent); the payload as the last request left it: the typed loan() value-initializes it,
  /// loan_uninit() does not. Throws Errc::exceeds_max_loans, Errc::corrupted.
  ChunkView loan(std::uint32_t& chunk);
  /// The same, or false when every loan is taken (for a loan that waits) or damaged().
  bool try_loan(std::uint32_t& chunk) noexcept;
  /// A loan of a request slice of `length` elements (its descriptor written, view.length set):
  /// checked against max_slice_len() before a chunk is taken, so a too long slice throws
  /// Errc::exceeds_max_slice_len and takes nothing; then as loan(chunk).
  ChunkView loan(std::uint32_t& chunk, std::uint64_t length);
  /// The same for a loan that waits: false while every loan is taken or damaged(); true once
  /// done, with chunk_view(chunk) the loan (its `length` to be set to `length`), or with
  /// `failure` set and nothing taken when no chunk could ever hold it: `length` above
  /// max_slice_len(), or a growth that failed (exceeds_max_slice_len, out_of_memory).
  bool try_loan(std::uint32_t& chunk, std::uint64_t length, Failure& failure) noexcept;
  /// The most elements a request slice of this client may be loaned with (0: requests are not
  /// slices): its initial_max_slice_len, or kMaxSliceLen for a port that grows (a growth may
  /// still fail: Errc::exceeds_max_slice_len, out_of_memory).
  std::uint64_t max_slice_len() const noexcept { return loanable_slice_len_; }
  /// Throws Errc::exceeds_max_slice_len, naming this client, `length`, the max and the fix,
  /// when `length` > max_slice_len().
  void check_slice_length(std::uint64_t length) const;
  ChunkView chunk_view(std::uint32_t chunk) const noexcept;
  void release_loan(std::uint32_t chunk) noexcept;
  /// Delivers the loaned chunk to every connected server; returns the channel that now tracks
  /// the request. Throws Errc::exceeds_max_active_requests (the loan stays with the caller).
  std::uint32_t send(std::uint32_t chunk);
  /// The same, or false when every channel is still open (for a send that waits); false with
  /// Errc::corrupted recorded in `failure` when the segment is damaged.
  bool try_send(std::uint32_t chunk, std::uint32_t& channel, Failure& failure);

  struct Received {
    ChunkView view;
    std::uint32_t server = 0;
    std::uint32_t chunk = 0;
  };
  /// The next response of the stream on `channel`, if one is there. Nothing, with the failure
  /// recorded: Errc::exceeds_max_loans when the pending response already borrows its maximum,
  /// Errc::corrupted.
  std::optional<Received> try_receive(std::uint32_t channel, Failure& failure);
  void release_response(std::uint32_t channel, std::uint32_t server, std::uint32_t chunk) noexcept;
  /// Whether a response of the stream on `channel` is queued: a look at the queues, no change.
  bool has_response(std::uint32_t channel) const noexcept;
  /// Tells the servers of the request on `channel` that this client will stop listening soon.
  void set_disconnect_hint(std::uint32_t channel) noexcept;
  /// True while a server the request reached still holds it open: false as soon as each has
  /// dropped its ActiveRequest, gone away or died, even with its responses still buffered.
  /// `check_liveness`: also ask whether the servers' processes still run (a syscall per server:
  /// their liveness marks; an event loop asks only after a watched pidfd fired, or at its
  /// safety recheck).
  bool is_connected(std::uint32_t channel, bool check_liveness = true) noexcept;
  /// True once no server is connected and everything they sent was received: the end of
  /// `co_await pending.receive()`.
  bool stream_ended(std::uint32_t channel, bool check_liveness = true) noexcept;
  /// Responses of the stream on `channel` that safe overflow overwrote before they were
  /// received, from the gaps in each server's sequence numbers.
  std::uint64_t number_of_overwritten_responses(std::uint32_t channel) const noexcept {
    return pending_[channel].overwritten;
  }
  /// The client's notifier: rung when a response arrives or a stream ends.
  DoorbellWords doorbell() const noexcept;
  /// Names the processes of the servers whose streams for `channel` are still open.
  void watch_servers(std::uint32_t channel, WakeSources& sources) const;
  std::uint32_t number_of_server_connections(std::uint32_t channel) noexcept;
  /// Why the request on `channel` is no longer held open (StreamEnd::open while it is).
  StreamEnd end_reason(std::uint32_t channel) noexcept;
  ChunkView request_of(std::uint32_t channel) const noexcept;
  void drop_pending(std::uint32_t channel) noexcept;

  /// Operations waiting on the stream of `channel` (its PendingResponse's receives).
  PortOperations& stream_operations(std::uint32_t channel) noexcept {
    return stream_operations_[channel];
  }
  /// Operations waiting for a free loan or channel of the client.
  PortOperations& slot_operations() noexcept { return slot_operations_; }

 private:
  /// What this process remembers of one of its channels.
  struct PendingState {
    std::uint64_t request_id = 0;
    std::uint64_t delivered = 0;  // bit per server the request reached
    std::uint64_t closed = 0;     // bit per server that no longer holds the request open
    std::uint64_t ended = 0;      // bit per closed server whose responses were all received
    std::uint64_t vanished = 0;   // bit per closed server seen gone with the request still open
    std::uint64_t overwritten = 0;
    std::uint32_t borrowed = 0;
    // Responses still borrowed after the PendingResponse went: until they are given back the
    // channel is not reused, and they keep this core alive (kept_alive_).
    std::uint32_t orphans = 0;
    std::uint32_t next_server = 0;
  };

  void ring_server(std::uint32_t server) const noexcept;
  /// The rare paths of responses outliving their PendingResponse, out of the hot functions.
  [[gnu::cold, gnu::noinline]] void orphan_responses(PendingState& pending) noexcept;
  [[gnu::cold, gnu::noinline]] void release_orphan(PendingState& pending) noexcept;
  void update_ended(std::uint32_t channel, bool check_liveness) noexcept;

  std::shared_ptr<ServiceSegment> segment_;
  const std::atomic<bool>* damaged_;
  // Before port_: checked before the slot is taken, so a refusal takes nothing.
  std::uint64_t max_slice_len_;
  // This client's slot of the segment, its pointers resolved once here.
  std::unique_ptr<const ClientPortView> port_;
  ClientId id_;
  std::uint64_t loanable_slice_len_;
  // Growth (floe::AllocationStrategy): the data segments this client's requests grew into,
  // and where each request chunk's elements are when not inline (nullptr: inline).
  std::unique_ptr<DataPool> data_pool_;
  std::vector<std::byte*> request_elements_;
  // The servers' data segments this client mapped, and the mapping each borrowed response
  // holds, [channel][server][chunk] (nullptr: inline).
  std::unique_ptr<DataMappings> data_mappings_;
  std::vector<DataMapping*> response_mapping_;
  /// Puts a loaned request's slice of `length` elements inline or in a data segment, writing its
  /// descriptor. Throws (the loan given back) when a growth fails.
  void place_request_slice(ChunkView& view, std::uint32_t chunk, std::uint64_t length);
  /// A borrowed response whose elements are in server `s`'s data segment: mapped and held, or
  /// false (logged) when the server is gone or wrote what no correct server writes.
  [[gnu::cold, gnu::noinline]] bool hold_response_elements(std::uint32_t channel, std::uint32_t s,
                                                           std::uint32_t chunk, const SliceRef& ref,
                                                           ChunkView& view, Failure& failure);
  std::uint32_t max_active_;
  Backpressure backpressure_;
  std::uint32_t loaned_ = 0;
  std::uint32_t next_chunk_ = 0;
  std::uint32_t next_channel_ = 0;
  std::vector<PendingState> pending_;
  std::vector<std::uint32_t> server_generation_;   // [channel * max_servers + server]
  std::vector<std::uint64_t> next_sequence_;       // expected next, same index
  std::vector<std::uint64_t> known_request_head_;  // per server, see IndexQueue::push
  std::uint64_t next_request_id_ = 0;  // the block of ids this client took from its slot
  std::uint64_t request_ids_end_ = 0;
  std::vector<PortOperations> stream_operations_;  // per channel
  PortOperations slot_operations_;
  // Channels with responses that outlived their PendingResponse, and the reference to this
  // core those responses share while there are any.
  std::uint32_t orphaned_channels_ = 0;
  std::shared_ptr<ClientCore> kept_alive_;
  std::uint8_t limits_logged_ = 0;  // the limits this port logged hitting (ports/port_log.hpp)
  /// A loan or channel came free: a task waiting for one (maybe asleep in an io_context that
  /// runs other handlers meanwhile) must look again.
  void notify_slot_freed() const noexcept;
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(std::shared_ptr<ServiceSegment> segment,
             std::uint32_t max_loaned_responses_per_request, Backpressure backpressure,
             SlicePolicy slices = {});
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;
  ~ServerCore();

  ServerId id() const noexcept { return id_; }
  /// As ClientCore::damaged().
  bool damaged() const noexcept { return damaged_->load(std::memory_order_relaxed); }
  /// As ClientCore::describe_damage().
  void describe_damage(Failure& failure) const;
  /// Looks whether the segment was shrunk where this process has not touched it (a syscall):
  /// for the moments liveness is looked at, never the hot path.
  void check_size() noexcept;
  Backpressure backpressure() const noexcept { return backpressure_; }
  std::uint32_t max_loaned_responses_per_request() const noexcept {
    return max_loaned_per_request_;
  }

  /// One request a client sent, as this server holds it open.
  struct Active {
    std::uint32_t client = 0;
    std::uint32_t channel = 0;
    std::uint64_t request_id = 0;
    ClientId client_id = 0;
    ChunkView request;
    /// The client's data segment holding the request's elements, held until end(); nullptr
    /// when they are inline.
    DataMapping* request_elements = nullptr;
  };

  /// The next request, if one is there; nothing with Errc::corrupted recorded in `failure` when
  /// the segment is damaged.
  std::optional<Active> try_receive(Failure& failure);
  bool has_requests() const noexcept;
  /// The server's notifier: rung when a request arrives.
  DoorbellWords doorbell() const noexcept;
  /// A free response chunk for `active`, as the last response left it: the typed loan()
  /// value-initializes it, loan_uninit() does not. Throws Errc::exceeds_max_loans.
  ChunkView loan(const Active& active, std::uint32_t& chunk);
  /// The same, or false when `active` has max_loaned_responses_per_request responses loaned,
  /// every chunk of its stream is queued or held by the client (for a loan that waits), or
  /// damaged(). Then chunk_view(active, chunk).
  bool try_loan(const Active& active, std::uint32_t& chunk) noexcept;
  /// A loan of a response slice of `length` elements, as ClientCore::loan(chunk, length).
  ChunkView loan(const Active& active, std::uint32_t& chunk, std::uint64_t length);
  /// The same for a loan that waits, as ClientCore::try_loan(chunk, length, failure): false
  /// as try_loan(active, chunk); true once done, with `view` the loan (in a data segment when
  /// it grew), or with `failure` set and nothing taken.
  bool try_loan(const Active& active, std::uint32_t& chunk, std::uint64_t length, ChunkView& view,
                Failure& failure) noexcept;
  /// Where the response chunk `chunk` of `active`'s stream is.
  ChunkView chunk_view(const Active& active, std::uint32_t chunk) const noexcept;
  /// The most elements a response slice of this server may be loaned with (0: responses are not
  /// slices), as ClientCore::max_slice_len().
  std::uint64_t max_slice_len() const noexcept { return loanable_slice_len_; }
  /// As ClientCore::check_slice_length.
  void check_slice_length(std::uint64_t length) const;
  void release_loan(const Active& active, std::uint32_t chunk) noexcept;
  enum class SendStatus : std::uint8_t { delivered, not_delivered, no_room };
  /// Sends `chunk`, handed over or returned whatever happens. not_delivered: the client is gone,
  /// or its buffer is full and neither safe overflow nor blocking applies. With
  /// Backpressure::block, sleeps until the client makes room, or until `deadline`: no_room then.
  SendStatus send(const Active& active, std::uint32_t chunk,
                  std::optional<Operation::Clock::time_point> deadline = std::nullopt) noexcept;
  /// One try of an awaited send, under the port's backpressure: std::nullopt while a
  /// Backpressure::block send must wait for room (the chunk stays loaned; the doorbell rings
  /// when the client makes room); else whether it was delivered, the chunk handed over or
  /// returned either way.
  std::optional<bool> send_once(const Active& active, std::uint32_t chunk) noexcept;
  /// The process of the client that sent `active`, for a send waiting for room.
  void watch_client(const Active& active, WakeSources& sources) const;
  bool is_connected(const Active& active) const noexcept;
  /// Whether the client of `active` said it will stop listening soon (one load each of two
  /// words of its channel record; no syscall).
  bool has_disconnect_hint(const Active& active) const noexcept;
  /// For an operation waiting on the stream of `active` once a watched process died: looks
  /// whether the segment was shrunk, and reclaims the client if it died (the response chunks
  /// it held come free).
  void recheck_client(const Active& active) noexcept {
    check_size();
    is_connected(active);
  }
  /// Ends the stream for the client; operations waiting on it are cancelled first. `as_gone`:
  /// the client reads the end as StreamEnd::server_gone, as if this server had died (for a
  /// server standing in for a remote one that failed), else as finished.
  void end(const Active& active, bool as_gone = false) noexcept;

  /// Operations waiting for a request (the Server's receives).
  PortOperations& receive_operations() noexcept { return receive_operations_; }
  /// Operations waiting on the stream of `active`: its sends waiting for room, its loans
  /// waiting for a response to be sent or given back.
  PortOperations& stream_operations(const Active& active) noexcept {
    return stream_operations_[stream_index(active)];
  }

 private:
  std::size_t stream_index(const Active& active) const noexcept;
  /// Tries once, never waits. no_room: the client's buffer is full (safe overflow off), the
  /// chunk stays loaned; otherwise it is handed over or returned.
  SendStatus try_send(const Active& active, std::uint32_t chunk) noexcept;
  /// The next request in `client`'s queue, if one is there (`only_departed`: if it is one a
  /// departed client sent).
  std::optional<Active> take_from(std::uint32_t client, bool only_departed);
  /// Marks the clients that went with requests still queued to this server, once the
  /// departures in its doorbell word moved on.
  void note_departed_clients() noexcept;
  void stop_waiting_for_room(std::size_t stream, IndexQueue& queue) noexcept;
  /// A request taken whose slice length is more than its chunk holds (a peer forged it): logged
  /// and closed, so its client sees this server's stream end.
  [[gnu::cold, gnu::noinline]] void refuse_request(std::uint32_t client, std::uint32_t channel,
                                                   std::uint64_t request_id,
                                                   const char* why) noexcept;
  /// What ending a stream does to shared memory: its queue given up if nobody reads, the request
  /// closed, the client rung.
  void close_stream(const Active& active, std::size_t stream, bool as_gone = false) noexcept;
  /// After a loan of an ending stream was sent or given back: once it was the last, the stream
  /// is closed and the core let go. Call last: it may destroy this core.
  [[gnu::cold, gnu::noinline]] void loan_settled(const Active& active, std::size_t stream) noexcept;
  /// An ActiveRequest went with responses still loaned: the stream ends with the last of them.
  [[gnu::cold, gnu::noinline]] void end_later(std::size_t stream, bool as_gone) noexcept;
  bool client_listens(const Active& active) const noexcept;
  void ring_client(const Active& active) const noexcept;
  /// A response of `stream` was sent or given back: a loan of it waiting for one (maybe in an
  /// event loop asleep on this server's doorbell) must look again. A list check when none waits.
  void notify_loan_freed(std::size_t stream) const noexcept;
  /// Writes the slice descriptor of a loan of `length` elements in `view`, placing its elements
  /// in a data segment when they do not fit inline (view.payload then points there). On a
  /// failed growth gives the loan back and throws.
  void place_response_slice(const Active& active, std::uint32_t chunk, std::uint64_t length,
                            ChunkView& view);

  std::shared_ptr<ServiceSegment> segment_;
  const std::atomic<bool>* damaged_;
  // Before port_: checked before the slot is taken, so a refusal takes nothing.
  std::uint64_t max_slice_len_;
  // This server's slot of the segment, its pointers resolved once here.
  std::unique_ptr<const ServerPortView> port_;
  ServerId id_;
  std::uint64_t loanable_slice_len_;
  // Growth: the data segments this server's responses grew into; the clients' data segments
  // this server mapped (see ClientCore).
  std::unique_ptr<DataPool> data_pool_;
  std::unique_ptr<DataMappings> data_mappings_;
  /// A taken request whose elements are in its client's data segment: mapped and held into
  /// `active`, or false (logged when the client wrote what no correct client writes).
  [[gnu::cold, gnu::noinline]] bool hold_request_elements(Active& active, std::uint32_t chunk,
                                                          const SliceRef& ref);
  std::uint32_t max_loaned_per_request_;
  Backpressure backpressure_;
  std::uint32_t next_client_ = 0;
  std::uint8_t limits_logged_ = 0;  // the limits this port logged hitting (ports/port_log.hpp)
  // Responses loaned and not yet sent, per (client, channel): an ActiveRequest may move, the
  // count must not.
  std::vector<std::uint32_t> loaned_;
  std::vector<std::uint32_t>
      next_chunk_;  // where the next loan starts looking, per (client, channel)
  std::vector<std::uint64_t> known_head_;  // of each response queue, see IndexQueue::push
  // Responses delivered for the request on each (client, channel): the next one's
  // ResponseHeader::sequence_number, so the client can count what safe overflow overwrote.
  std::vector<std::uint64_t> sequence_;
  // Requests of clients that went come first (as in iceoryx2): the queues still holding some,
  // found when the departures rung into the doorbell word (departures_rung) moved on.
  std::uint32_t departures_seen_ = 0;
  std::uint32_t departed_count_ = 0;
  std::vector<std::uint8_t> departed_;  // per client
  // Whether this server raised the producer_waiting flag of a stream's queue (so it knows to
  // lower it without reading the consumer's cache line on every send).
  std::vector<std::uint8_t> waiting_for_room_;
  // Streams whose ActiveRequest went while responses were still loaned: they end when the last
  // of those is sent or given back, which keep this core alive until then. `ending_` is the
  // stream's (its thread's; 2: to end as gone), the count and reference are shared by every
  // stream's thread.
  std::vector<std::uint8_t> ending_;
  std::mutex ending_mutex_;
  std::uint32_t ending_streams_ = 0;
  std::shared_ptr<ServerCore> kept_alive_;
  PortOperations receive_operations_;
  std::vector<PortOperations> stream_operations_;  // per (client, channel)
};

/// For an awaited loan of a slice no chunk will ever hold: records the exceeds_max_slice_len
/// that `core`'s loan would throw, naming the port, `length`, the max and the fix.
template <typename Core>
[[gnu::cold]] void record_slice_too_long(const Core& core, std::uint64_t length,
                                         Failure& failure) noexcept {
  try {
    core.check_slice_length(length);
  } catch (const Error& e) {
    failure.set(static_cast<Errc>(e.code().value()), e.what());
  }
}

/// Records the exception in flight as `failure`: a floe::Error as it is, anything else (a
/// failed allocation) as out_of_memory with its text.
[[gnu::cold]] inline void record_current_exception(Failure& failure) noexcept {
  try {
    throw;
  } catch (const Error& e) {
    failure.set(static_cast<Errc>(e.code().value()), e.what());
  } catch (const std::exception& e) {
    failure.set(Errc::out_of_memory, std::string("floe: ") + e.what());
  } catch (...) {
    failure.set(Errc::out_of_memory, "floe: a loan failed");
  }
}

// What each message type holds besides its port's core, and how it is given back (see
// UniqueHandle).

/// A RequestMut's loan.
struct LoanedRequest {
  ChunkView view;
  std::uint32_t chunk = 0;
  static void let_go(ClientCore& core, const LoanedRequest& held) noexcept {
    core.release_loan(held.chunk);
  }
};
/// A PendingResponse's stream.
struct OpenStream {
  std::uint32_t channel = 0;
  static void let_go(ClientCore& core, const OpenStream& held) noexcept {
    core.drop_pending(held.channel);
  }
};
/// A Response borrowed from a server.
struct BorrowedResponse {
  std::uint32_t channel = 0;
  ClientCore::Received received{};
  static void let_go(ClientCore& core, const BorrowedResponse& held) noexcept {
    core.release_response(held.channel, held.received.server, held.received.chunk);
  }
};
/// A ResponseMut's loan.
struct LoanedResponse {
  ServerCore::Active active;
  ChunkView view;
  std::uint32_t chunk = 0;
  static void let_go(ServerCore& core, const LoanedResponse& held) noexcept {
    core.release_loan(held.active, held.chunk);
  }
};
/// An ActiveRequest's request, held open.
struct HeldRequest {
  ServerCore::Active active;
  static void let_go(ServerCore& core, const HeldRequest& held) noexcept { core.end(held.active); }
};

}  // namespace floe::detail
