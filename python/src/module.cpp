// floe's Python module `_floe`: the compiled cores (detail::ClientCore, detail::ServerCore,
// detail::open_service) driven with payload types known only at run time. The package
// python/floe/__init__.py builds the ctypes-typed API on top; docs/PYTHON.md explains the split.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "floe/attributes.hpp"
#include "floe/config.hpp"
#include "floe/detail/payload_access.hpp"
#include "floe/detail/ports.hpp"
#include "floe/detail/reactor.hpp"
#include "floe/detail/service_spec.hpp"
#include "floe/detail/unique_handle.hpp"
#include "floe/error.hpp"
#include "floe/introspection.hpp"
#include "floe/limits.hpp"
#include "floe/node.hpp"
#include "floe/runtime_options.hpp"

namespace py = pybind11;

namespace {

using floe::detail::ChunkView;
using floe::detail::ClientCore;
using floe::detail::ServerCore;
using floe::detail::UniqueHandle;

/// A payload type as Python describes it: (name, size, alignment).
using TypeTuple = std::tuple<std::string, std::uint64_t, std::uint64_t>;

// Owned references that live as long as the interpreter: plain pointers, so that no destructor
// runs after Python has finalized. The package puts its classes in (floe/__init__.py).
/// What a message used after it was released (sent, dropped or given back) raises.
PyObject* released_error = PyExc_RuntimeError;
/// floe.Error's subclass for each floe::Errc value.
PyObject* error_classes = nullptr;

/// A core error's message in Python's words where it names a C++ fix: the few places the
/// cores spell the remedy as C++ (the rest of their text is the same in both languages).
std::string in_python_words(std::string text) {
  static constexpr std::pair<std::string_view, std::string_view> kWords[] = {
      {"floe::AllocationStrategy::power_of_two or best_fit",
       "floe.AllocationStrategy.POWER_OF_TWO or BEST_FIT"},
      {"allocation_strategy(power_of_two)",
       "allocation_strategy(floe.AllocationStrategy.POWER_OF_TWO)"},
      {"floe::kMaxSliceLen", "the most elements a slice holds"},
  };
  for (const auto& [cpp, python] : kWords) {
    for (std::size_t at = text.find(cpp); at != std::string::npos;
         at = text.find(cpp, at + python.size())) {
      text.replace(at, cpp.size(), python);
    }
  }
  return text;
}

[[noreturn]] void raise_released(const char* what) {
  PyErr_SetString(released_error, (std::string("floe: this ") + what +
                                   " was released (sent, or its with-block left): take a new one")
                                      .c_str());
  throw py::error_already_set();
}

/// A memoryview of `size` bytes at `at`, writable so ctypes' from_buffer takes it (the package
/// refuses writes to received payloads itself). It does not keep the mapping alive: the package
/// hands it out only behind a PayloadView that checks the message is still held.
py::memoryview bytes_at(std::byte* at, std::uint64_t size) {
  return py::memoryview::from_memory(static_cast<void*>(at), static_cast<py::ssize_t>(size));
}

/// One side's payload (a client's requests, a server's responses) as a service declares it.
struct PayloadShape {
  std::uint64_t size = 0;  ///< of the payload type; of one element for a slice
  bool slice = false;      ///< a floe::Slice: each message holds `length` elements

  /// The bytes of the payload `view` shows: a fixed payload's size, or the slice's length (as
  /// loaned, or as the core validated it on receipt, never read from shared memory here)
  /// times its element's.
  std::uint64_t bytes(const ChunkView& view) const noexcept {
    return slice ? view.length * size : size;
  }
  /// TypeError unless the payload is (`want_slice`) or is not a slice: a fixed-size loan of a
  /// slice service, or a slice loan of a fixed one, says which call to use.
  void require(bool want_slice, const char* side) const {
    if (slice == want_slice) return;
    throw py::type_error(std::string("floe: this service's ") + side + " payload is " +
                         (slice ? "a floe.Slice: loan it with loan_slice(n) or "
                                  "loan_slice_uninit(n)"
                                : "fixed-size: loan it with loan() or loan_uninit()"));
  }
};

/// A loan holding a copy of the C-contiguous Python buffer `source` (send_copy): of its exact
/// size for a fixed payload, else as many elements as it holds, which must be a whole number
/// (TypeError otherwise). `loan(length)` makes the loan (the length unused for a fixed one).
template <typename Loan>
auto loan_copy_of(const py::buffer& source, const PayloadShape& shape, Loan&& loan) {
  const py::buffer_info info = source.request();
  if (PyBuffer_IsContiguous(info.view(), 'C') == 0) {
    throw py::type_error("floe: send_copy needs a contiguous buffer");
  }
  const auto bytes = static_cast<std::uint64_t>(info.size * info.itemsize);
  if (!shape.slice && bytes != shape.size) {
    throw py::type_error("floe: send_copy needs a payload of " + std::to_string(shape.size) +
                         " bytes (the service's payload type), got " + std::to_string(bytes));
  }
  if (shape.slice && bytes % shape.size != 0) {
    throw py::type_error("floe: send_copy of a slice needs a whole number of elements of " +
                         std::to_string(shape.size) + " bytes, got " + std::to_string(bytes) +
                         " bytes");
  }
  auto message = loan(shape.slice ? bytes / shape.size : 0);
  std::memcpy(message.payload_address(), info.ptr, bytes);
  return message;
}

/// A limit the caller of a port builder asked for: from 1 to the service's.
std::uint32_t port_limit(std::optional<std::uint32_t> asked, std::uint32_t service_max,
                         const char* name) {
  if (!asked) return service_max;
  if (*asked == 0 || *asked > service_max) {
    throw floe::Error(floe::Errc::incompatible_limits,
                      std::string("floe: ") + name + "(n) takes 1 to the service's " + name +
                          " = " + std::to_string(service_max) +
                          "; ask for fewer, or create the service with more");
  }
  return *asked;
}

// The asyncio waits, defined below the ports they wait on.
class PyServerReceive;
class PyStreamReceive;
// Flow control: awaited loans and sends, the wait for a server.
class PyResponseSend;
class PyRequestSend;
class PyLoanWait;
class PyResponseLoanWait;
class PyServerWait;

struct PayloadSizes {
  PayloadShape request;
  PayloadShape response;
  std::uint64_t request_user_header = 0;   // 0: the service has none
  std::uint64_t response_user_header = 0;  // 0: the service has none
};

/// As the typed layer's begin_chunk(): a loaned chunk's user header starts value-initialized
/// (all bytes zero for a ctypes type), whatever the chunk carried before.
void zero_user_header(const ChunkView& view, std::uint64_t size) noexcept {
  if (size != 0) std::memset(view.user_header, 0, size);
}

// Client side ------------------------------------------------------------------------------

class PyResponse {
 public:
  PyResponse(std::shared_ptr<ClientCore> core, std::uint32_t channel,
             const ClientCore::Received& received, PayloadSizes sizes)
      : keep_(std::move(core)),
        handle_(keep_.get(), {channel, received}),
        shape_(sizes.response),
        user_header_size_(sizes.response_user_header) {}

  bool held() const noexcept { return static_cast<bool>(handle_); }
  py::memoryview payload() const {
    const ChunkView& received = view("response");
    return bytes_at(received.payload, shape_.bytes(received));
  }
  std::tuple<std::uint64_t, std::uint64_t, std::uint64_t> header() const {
    const auto& h = *floe::detail::object_at<const floe::ResponseHeader>(view("response").header);
    return {h.server_id, h.request_id, h.sequence_number};
  }
  void release() noexcept { handle_.reset(); }
  py::memoryview user_header() const {
    return bytes_at(view("response").user_header, user_header_size_);
  }

 private:
  const ChunkView& view(const char* what) const {
    if (!handle_) raise_released(what);
    return handle_.held().received.view;
  }
  std::shared_ptr<ClientCore> keep_;  // declared first: the handle gives back before it goes
  UniqueHandle<ClientCore*, floe::detail::BorrowedResponse> handle_;
  PayloadShape shape_;
  std::uint64_t user_header_size_;
};

class PyPendingResponse {
 public:
  /// `request`: the loan sent, whose length (of a slice request) this remembers: the chunk is
  /// in shared memory, where a server could rewrite its descriptor.
  PyPendingResponse(std::shared_ptr<ClientCore> core, std::uint32_t channel, PayloadSizes sizes,
                    const ChunkView& request)
      : handle_(std::move(core), {channel}), sizes_(sizes), request_length_(request.length) {}

  bool held() const noexcept { return static_cast<bool>(handle_); }
  std::optional<PyResponse> try_receive() {
    floe::detail::Failure failure;
    auto received = core().try_receive(channel(), failure);
    if (failure) failure.raise();
    if (!received) return std::nullopt;
    return PyResponse(shared_core(), channel(), *received, sizes_);
  }
  bool is_connected() { return core().is_connected(channel()); }
  bool has_response() { return core().has_response(channel()); }
  std::uint32_t number_of_server_connections() {
    return core().number_of_server_connections(channel());
  }
  std::uint64_t number_of_overwritten_responses() {
    return core().number_of_overwritten_responses(channel());
  }
  void set_disconnect_hint() { core().set_disconnect_hint(channel()); }
  py::memoryview payload() {
    ChunkView request = core().request_of(channel());
    request.length = request_length_;
    return bytes_at(request.payload, sizes_.request.bytes(request));
  }
  std::tuple<std::uint64_t, std::uint64_t> header() {
    const auto& h =
        *floe::detail::object_at<const floe::RequestHeader>(core().request_of(channel()).header);
    return {h.client_id, h.request_id};
  }
  void release() noexcept { handle_.reset(); }
  std::unique_ptr<PyStreamReceive> receive_operation();
  py::memoryview user_header() {
    return bytes_at(core().request_of(channel()).user_header, sizes_.request_user_header);
  }
  /// floe::StreamEnd's value: why the stream is over, or that it is not.
  int end_reason() { return static_cast<int>(core().end_reason(channel())); }

 private:
  ClientCore& core() const {
    if (!handle_) raise_released("pending response");
    return handle_.core();
  }
  std::shared_ptr<ClientCore> shared_core() const { return core().shared_from_this(); }
  std::uint32_t channel() const noexcept { return handle_.held().channel; }

  UniqueHandle<std::shared_ptr<ClientCore>, floe::detail::OpenStream> handle_;
  PayloadSizes sizes_;
  std::uint64_t request_length_;
};

class PyRequestMut {
 public:
  PyRequestMut(std::shared_ptr<ClientCore> core, ChunkView view, std::uint32_t chunk,
               PayloadSizes sizes)
      : handle_(std::move(core), {view, chunk}), sizes_(sizes) {
    zero_user_header(view, sizes.request_user_header);
  }

  bool held() const noexcept { return static_cast<bool>(handle_); }
  py::memoryview payload() { return bytes_at(view().payload, sizes_.request.bytes(view())); }
  std::byte* payload_address() { return view().payload; }
  std::tuple<std::uint64_t, std::uint64_t> header() {
    const auto& h = *floe::detail::object_at<const floe::RequestHeader>(view().header);
    return {h.client_id, h.request_id};
  }
  /// As RequestMut::send(): on exceeds_max_active_requests the loan stays held.
  PyPendingResponse send() {
    if (!handle_) raise_released("request");
    const std::uint32_t channel = handle_.core().send(handle_.held().chunk);
    const ChunkView sent = view();
    return PyPendingResponse(handle_.hand_over(), channel, sizes_, sent);
  }
  void release() noexcept { handle_.reset(); }
  py::memoryview user_header() { return bytes_at(view().user_header, sizes_.request_user_header); }
  /// The awaited send: takes the loan over (this holds nothing afterwards).
  std::unique_ptr<PyRequestSend> send_operation();

 private:
  const ChunkView& view() const {
    if (!handle_) raise_released("request");
    return handle_.held().view;
  }
  UniqueHandle<std::shared_ptr<ClientCore>, floe::detail::LoanedRequest> handle_;
  PayloadSizes sizes_;
};

class PyClient {
 public:
  PyClient(std::shared_ptr<ClientCore> core, PayloadSizes sizes)
      : core_(std::move(core)), sizes_(sizes) {}
  PyClient(PyClient&&) noexcept = default;
  PyClient& operator=(PyClient&&) = delete;
  /// As ~Client: its loans and server waits still waiting complete as cancelled.
  ~PyClient() { release(); }

  /// Value-initialized as C++'s loan(): a ctypes payload's zero is all bytes zero.
  PyRequestMut loan() {
    PyRequestMut request = loan_uninit();
    std::memset(request.payload_address(), 0, sizes_.request.size);
    return request;
  }
  PyRequestMut loan_uninit() {
    sizes_.request.require(false, "request");
    std::uint32_t chunk = 0;
    const ChunkView view = core().loan(chunk);
    return PyRequestMut(core_, view, chunk, sizes_);
  }
  /// `length` elements, value-initialized as C++'s loan_slice().
  PyRequestMut loan_slice(std::uint64_t length) {
    PyRequestMut request = loan_slice_uninit(length);
    std::memset(request.payload_address(), 0, length * sizes_.request.size);
    return request;
  }
  PyRequestMut loan_slice_uninit(std::uint64_t length) {
    sizes_.request.require(true, "request");
    std::uint32_t chunk = 0;
    const ChunkView view = core().loan(chunk, length);
    return PyRequestMut(core_, view, chunk, sizes_);
  }
  /// A loan holding a copy of `payload` (send_copy's first half, for call_async).
  PyRequestMut loan_copy(const py::buffer& payload) {
    return loan_copy_of(payload, sizes_.request, [this](std::uint64_t length) {
      return sizes_.request.slice ? loan_slice_uninit(length) : loan_uninit();
    });
  }
  PyPendingResponse send_copy(const py::buffer& payload) { return loan_copy(payload).send(); }
  std::uint64_t id() { return core().id(); }
  std::uint32_t number_of_servers() { return core().number_of_servers(); }
  std::uint32_t max_active_requests() { return core().max_active_requests(); }
  void release() noexcept {
    if (core_ != nullptr) core_->slot_operations().cancel_all();
    core_.reset();
  }
  std::unique_ptr<PyLoanWait> loan_operation();
  std::unique_ptr<PyLoanWait> loan_slice_operation(std::uint64_t length);
  std::unique_ptr<PyServerWait> server_wait_operation();

 private:
  ClientCore& core() const {
    if (core_ == nullptr) raise_released("client");
    return *core_;
  }
  std::shared_ptr<ClientCore> core_;
  PayloadSizes sizes_;
};

// Server side ------------------------------------------------------------------------------

class PyResponseMut {
 public:
  PyResponseMut(std::shared_ptr<ServerCore> core, const ServerCore::Active& active, ChunkView view,
                std::uint32_t chunk, PayloadSizes sizes)
      : keep_(std::move(core)),
        handle_(keep_.get(), {active, view, chunk}),
        shape_(sizes.response),
        user_header_size_(sizes.response_user_header) {
    zero_user_header(view, user_header_size_);
  }

  bool held() const noexcept { return static_cast<bool>(handle_); }
  py::memoryview payload() { return bytes_at(view().payload, shape_.bytes(view())); }
  std::byte* payload_address() { return view().payload; }
  void release() noexcept { handle_.reset(); }
  py::memoryview user_header() { return bytes_at(view().user_header, user_header_size_); }
  /// The send as an awaited operation: takes the loan over.
  std::unique_ptr<PyResponseSend> send_operation();
  /// send() that never blocks the thread for longer than `timeout_seconds`: under
  /// Backpressure::block it waits for room with the GIL released, then raises floe.TimedOut
  /// with the response given back unsent.
  bool send_bounded(double timeout_seconds);

 private:
  const ChunkView& view() const {
    if (!handle_) raise_released("response");
    return handle_.held().view;
  }
  std::shared_ptr<ServerCore> keep_;  // declared first: the handle gives back before it goes
  UniqueHandle<ServerCore*, floe::detail::LoanedResponse> handle_;
  PayloadShape shape_;
  std::uint64_t user_header_size_;
};

class PyActiveRequest {
 public:
  PyActiveRequest(std::shared_ptr<ServerCore> core, const ServerCore::Active& active,
                  PayloadSizes sizes)
      : handle_(std::move(core), {active}), sizes_(sizes) {}

  bool held() const noexcept { return static_cast<bool>(handle_); }
  py::memoryview payload() {
    return bytes_at(active().request.payload, sizes_.request.bytes(active().request));
  }
  std::tuple<std::uint64_t, std::uint64_t> header() {
    const auto& h = *floe::detail::object_at<const floe::RequestHeader>(active().request.header);
    return {h.client_id, h.request_id};
  }
  bool is_connected() { return core().is_connected(active()); }
  bool has_disconnect_hint() { return core().has_disconnect_hint(active()); }
  PyResponseMut loan() {
    PyResponseMut response = loan_uninit();
    std::memset(response.payload_address(), 0, sizes_.response.size);
    return response;
  }
  PyResponseMut loan_uninit() {
    sizes_.response.require(false, "response");
    std::uint32_t chunk = 0;
    const ChunkView view = core().loan(active(), chunk);
    return PyResponseMut(core().shared_from_this(), active(), view, chunk, sizes_);
  }
  /// `length` elements, value-initialized as C++'s loan_slice().
  PyResponseMut loan_slice(std::uint64_t length) {
    PyResponseMut response = loan_slice_uninit(length);
    std::memset(response.payload_address(), 0, length * sizes_.response.size);
    return response;
  }
  PyResponseMut loan_slice_uninit(std::uint64_t length) {
    sizes_.response.require(true, "response");
    std::uint32_t chunk = 0;
    const ChunkView view = core().loan(active(), chunk, length);
    return PyResponseMut(core().shared_from_this(), active(), view, chunk, sizes_);
  }
  void release() noexcept { handle_.reset(); }
  py::memoryview user_header() {
    return bytes_at(active().request.user_header, sizes_.request_user_header);
  }
  /// A loan holding a copy of `payload` (send_copy's first half, for the bounded and awaited
  /// sends).
  PyResponseMut loan_copy(const py::buffer& payload) {
    return loan_copy_of(payload, sizes_.response, [this](std::uint64_t length) {
      return sizes_.response.slice ? loan_slice_uninit(length) : loan_uninit();
    });
  }
  /// send_copy() bounded as PyResponseMut::send_bounded(), with no Python object in between.
  bool send_copy_bounded(const py::buffer& payload, double timeout_seconds) {
    return loan_copy(payload).send_bounded(timeout_seconds);
  }
  /// loan() / loan_slice(length) as an awaited operation that waits for a response to be sent
  /// or given back.
  std::unique_ptr<PyResponseLoanWait> loan_operation();
  std::unique_ptr<PyResponseLoanWait> loan_slice_operation(std::uint64_t length);

 private:
  ServerCore& core() const {
    if (!handle_) raise_released("active request");
    return handle_.core();
  }
  const ServerCore::Active& active() const {
    core();
    return handle_.held().active;
  }
  UniqueHandle<std::shared_ptr<ServerCore>, floe::detail::HeldRequest> handle_;
  PayloadSizes sizes_;
};

class PyServer {
 public:
  PyServer(std::shared_ptr<ServerCore> core, PayloadSizes sizes)
      : core_(std::move(core)), sizes_(sizes) {}
  PyServer(PyServer&&) noexcept = default;
  PyServer& operator=(PyServer&&) = delete;
  /// As ~Server: receives still waiting complete as cancelled.
  ~PyServer() { release(); }

  std::optional<PyActiveRequest> try_receive() {
    floe::detail::Failure failure;
    auto active = core().try_receive(failure);
    if (failure) failure.raise();
    if (!active) return std::nullopt;
    return PyActiveRequest(core_, *active, sizes_);
  }
  bool has_requests() { return core().has_requests(); }
  std::uint64_t id() { return core().id(); }
  std::uint32_t max_loaned_responses_per_request() {
    return core().max_loaned_responses_per_request();
  }
  void release() noexcept {
    if (core_ != nullptr) core_->receive_operations().cancel_all();
    core_.reset();
  }
  std::unique_ptr<PyServerReceive> receive_operation();

 private:
  ServerCore& core() const {
    if (core_ == nullptr) raise_released("server");
    return *core_;
  }
  std::shared_ptr<ServerCore> core_;
  PayloadSizes sizes_;
};

// asyncio ----------------------------------------------------------------------------------

/// The floe Reactor of one asyncio event loop, which watches fd() with loop.add_reader: the
/// loop wakes when a doorbell of a waiting operation rings or a watched peer dies, as an Asio
/// io_context does with the Asio adapter. Every call returns whether operations still wait (the
/// package then keeps the reader and the safety recheck, or drops them).
class PyLoopWaiter {
 public:
  PyLoopWaiter() : reactor_(floe::RuntimeBackend::automatic) {}

  int fd() const noexcept { return reactor_.pollable_fd(); }
  floe::detail::Reactor& reactor() noexcept { return reactor_; }

  /// Before the loop goes back to sleep: announces on every doorbell, looking once more (what
  /// became ready meanwhile completes now), then submits the waits.
  bool arm() {
    while (!reactor_.idle() && reactor_.prepare_sleep()) {
    }
    if (reactor_.idle()) {
      reactor_.finish_sleep();
      return false;
    }
    reactor_.arm();
    return true;
  }
  /// fd() turned readable.
  bool on_readable() {
    reactor_.take_events();
    reactor_.finish_sleep();
    reactor_.poll_all(false);
    return arm();
  }
  /// The safety recheck (RuntimeOptions::safety_recheck): a wake-up a peer failed to ring, or a
  /// peer death no pidfd reported, is noticed at the latest then.
  bool recheck() {
    reactor_.finish_sleep();
    reactor_.recheck_peers();
    reactor_.poll_all(false);
    return arm();
  }

 private:
  floe::detail::Reactor reactor_;
};

/// A wait of the asyncio face, started into a loop's reactor; completing calls `done()` (on
/// the loop's thread, inside a call of PyLoopWaiter or a port's release), after which
/// result() yields the value or raises the floe error.
class PyWait : public floe::detail::Operation {
 public:
  PyWait() = default;
  PyWait(const PyWait&) = delete;
  PyWait& operator=(const PyWait&) = delete;
  /// Leaves the reactor before the reference that keeps it alive goes. (Each derived class
  /// abandons in its own destructor too: by the time this runs, its port_operations() and the
  /// port it holds are gone.)
  ~PyWait() override { abandon(); }

  void begin(const py::object& waiter, py::object done) {
    waiter_ = waiter;
    done_ = std::move(done);
    start(waiter.cast<PyLoopWaiter&>().reactor());
  }
  /// Completes it as cancelled if it is still waiting; a value it took stays for result().
  void cancel_wait() noexcept { cancel(); }

 protected:
  void on_complete() noexcept override {
    py::object done = std::move(done_);
    try {
      if (done) done();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable(__func__);
    }
  }
  void check() const {
    if (failed()) throw_error();
  }

 private:
  py::object waiter_;  // keeps the reactor this waits in
  py::object done_;
};

class PyServerReceive final : public PyWait {
 public:
  PyServerReceive(std::shared_ptr<ServerCore> core, PayloadSizes sizes)
      : core_(std::move(core)), sizes_(sizes) {}
  /// Leaves the reactor and the port's list while core_ (perhaps the port's last owner) and
  /// this class's port_operations() are still there: ~PyWait runs after both are gone.
  ~PyServerReceive() override { abandon(); }
  /// The request received; raises floe.Cancelled if the wait was cancelled first.
  PyActiveRequest result() {
    check();
    return std::move(*received_);
  }
  /// Whether it took a request (that result() has not handed out yet).
  bool has_value() const noexcept { return received_.has_value() && !failed(); }

 private:
  bool poll(const PollContext& context) noexcept override {
    if (context.peers_changed) core_->check_size();
    if (auto active = core_->try_receive(failure())) {
      received_.emplace(core_, *active, sizes_);
      return true;
    }
    return static_cast<bool>(failure());
  }
  floe::detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  floe::detail::PortOperations* port_operations() const noexcept override {
    return &core_->receive_operations();
  }

  std::shared_ptr<ServerCore> core_;
  PayloadSizes sizes_;
  std::optional<PyActiveRequest> received_;
};

class PyStreamReceive final : public PyWait {
 public:
  PyStreamReceive(std::shared_ptr<ClientCore> core, std::uint32_t channel, PayloadSizes sizes)
      : core_(std::move(core)), channel_(channel), sizes_(sizes) {}
  /// Leaves the reactor and the port's list while core_ (perhaps the port's last owner) and
  /// this class's port_operations() are still there: ~PyWait runs after both are gone.
  ~PyStreamReceive() override { abandon(); }
  /// The response received, or None once the stream ended.
  std::optional<PyResponse> result() {
    check();
    return std::move(received_);
  }
  bool has_value() const noexcept { return received_.has_value() && !failed(); }

 private:
  bool poll(const PollContext& context) noexcept override {
    if (auto received = core_->try_receive(channel_, failure())) {
      received_.emplace(core_, channel_, *received, sizes_);
      return true;
    }
    return static_cast<bool>(failure()) || core_->stream_ended(channel_, context.peers_changed);
  }
  floe::detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  void watch_processes(floe::detail::WakeSources& sources) const override {
    core_->watch_servers(channel_, sources);
  }
  floe::detail::PortOperations* port_operations() const noexcept override {
    return &core_->stream_operations(channel_);
  }

  std::shared_ptr<ClientCore> core_;
  std::uint32_t channel_;
  PayloadSizes sizes_;
  std::optional<PyResponse> received_;
};

std::unique_ptr<PyServerReceive> PyServer::receive_operation() {
  core();
  return std::make_unique<PyServerReceive>(core_, sizes_);
}

std::unique_ptr<PyStreamReceive> PyPendingResponse::receive_operation() {
  return std::make_unique<PyStreamReceive>(shared_core(), channel(), sizes_);
}

// Flow control -----------------------------------------------------------------------------

/// An awaited response send, waiting for room in the client's buffer (safe overflow off) under
/// Backpressure::block, as C++'s ResponseSendOperation. Cancelled, it gives its chunk back and
/// sends nothing.
class PyResponseSend final : public PyWait {
 public:
  PyResponseSend(std::shared_ptr<ServerCore> core,
                 UniqueHandle<ServerCore*, floe::detail::LoanedResponse> loan)
      : core_(std::move(core)), loan_(std::move(loan)) {}
  PyResponseSend(const PyResponseSend&) = delete;
  PyResponseSend& operator=(const PyResponseSend&) = delete;
  /// Leaves the reactor and the stream's list before core_ (maybe the last reference to the
  /// port that lists it) goes.
  ~PyResponseSend() override { abandon(); }
  /// Whether the response was delivered; raises floe.Cancelled if the wait was cancelled first.
  bool result() const {
    check();
    return delivered_;
  }
  /// Whether it settled (sent, or found nobody to send to) before a cancel.
  bool has_value() const noexcept { return settled_ && !failed(); }
  /// One try before it waits: true when settled (result() says how), so a send with room
  /// never goes through the event loop.
  bool try_complete() noexcept { return attempt(); }

 private:
  /// True once settled either way, as ResponseSendOperation::attempt().
  bool attempt() noexcept {
    if (!loan_) return true;
    const std::optional<bool> delivered = core_->send_once(loan_.held().active, loan_.held().chunk);
    if (!delivered) return false;
    loan_.hand_over();  // delivered, or returned to the pool by the core
    delivered_ = *delivered;
    settled_ = true;
    return true;
  }
  bool poll(const PollContext& context) noexcept override {
    if (attempt()) return true;
    if (context.peers_changed && !core_->is_connected(loan_.held().active)) {
      loan_.reset();
      settled_ = true;
      return true;
    }
    return false;
  }
  floe::detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  void watch_processes(floe::detail::WakeSources& sources) const override {
    core_->watch_client(loan_.held().active, sources);
  }
  floe::detail::PortOperations* port_operations() const noexcept override {
    return &core_->stream_operations(loan_.held().active);
  }
  void on_interrupted() noexcept override { loan_.reset(); }

  std::shared_ptr<ServerCore> core_;  // declared first: the loan gives back before it goes
  UniqueHandle<ServerCore*, floe::detail::LoanedResponse> loan_;  // empty once settled
  bool delivered_ = false;
  bool settled_ = false;
};

/// A wait on the client's own doorbell, listed with the client's waits for loans and channels,
/// as C++'s detail::ClientWait. It holds its own reference to the port.
class PyClientWait : public PyWait {
 public:
  /// One try before it waits: true when done, so what is there at once never goes through the
  /// event loop.
  bool try_complete() noexcept { return attempt(); }

 protected:
  explicit PyClientWait(std::shared_ptr<ClientCore> core) : core_(std::move(core)) {}
  /// Leaves the reactor and the client's list before core_ (maybe the last reference to the
  /// port that lists it) goes; a derived class whose members the wait looks at leaves first.
  ~PyClientWait() override { abandon(); }
  /// Looks once: true when done (its value kept, or a failure recorded).
  virtual bool attempt() noexcept = 0;
  /// Records Errc::corrupted when another process shrank the segment: true then.
  bool record_damage() {
    if (!core_->damaged()) return false;
    core_->describe_damage(failure());
    return true;
  }

  std::shared_ptr<ClientCore> core_;

 private:
  bool poll(const PollContext& context) noexcept override {
    if (context.peers_changed) core_->check_size();
    return attempt();
  }
  floe::detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  floe::detail::PortOperations* port_operations() const noexcept override {
    return &core_->slot_operations();
  }
};

/// A request send that waits for a free channel (max_active_requests open), as C++'s
/// RequestMut::SendOperation. Cancelled, it gives its chunk back and sends nothing.
class PyRequestSend final : public PyClientWait {
 public:
  PyRequestSend(UniqueHandle<std::shared_ptr<ClientCore>, floe::detail::LoanedRequest> loan,
                PayloadSizes sizes)
      : PyClientWait(loan.core().shared_from_this()), loan_(std::move(loan)), sizes_(sizes) {}
  ~PyRequestSend() override { abandon(); }
  PyPendingResponse result() {
    check();
    return std::move(*sent_);
  }
  bool has_value() const noexcept { return sent_.has_value() && !failed(); }

 private:
  bool attempt() noexcept override {
    std::uint32_t channel = 0;
    if (!core_->try_send(loan_.held().chunk, channel, failure())) {
      return static_cast<bool>(failure());  // Errc::corrupted; else no channel is free yet
    }
    const ChunkView sent = loan_.held().view;
    sent_.emplace(loan_.hand_over(), channel, sizes_, sent);
    return true;
  }
  void on_interrupted() noexcept override { loan_.reset(); }

  UniqueHandle<std::shared_ptr<ClientCore>, floe::detail::LoanedRequest> loan_;
  PayloadSizes sizes_;
  std::optional<PyPendingResponse> sent_;
};

/// A loan that waits while every request chunk is loaned, as C++'s Client::LoanOperation.
class PyLoanWait final : public PyClientWait {
 public:
  /// A loan of the fixed payload, or of a slice of `length` elements (which must be within
  /// the client's max: a loan that could never succeed fails here, it does not wait).
  PyLoanWait(std::shared_ptr<ClientCore> core, PayloadSizes sizes, std::uint64_t length = 0)
      : PyClientWait(std::move(core)), sizes_(sizes), length_(length) {
    if (sizes_.request.slice) core_->check_slice_length(length_);
  }
  ~PyLoanWait() override { abandon(); }
  PyRequestMut result() {
    check();
    return std::move(*loaned_);
  }
  bool has_value() const noexcept { return loaned_.has_value() && !failed(); }

 private:
  bool attempt() noexcept override {
    std::uint32_t chunk = 0;
    const bool done =
        sizes_.request.slice ? core_->try_loan(chunk, length_, failure()) : core_->try_loan(chunk);
    if (!done) return record_damage();
    if (failed()) return true;  // nothing was taken
    ChunkView view = core_->chunk_view(chunk);
    view.length = length_;
    std::memset(view.payload, 0, sizes_.request.bytes(view));  // value-initialized, as loan()
    loaned_.emplace(core_, view, chunk, sizes_);
    return true;
  }

  PayloadSizes sizes_;
  std::uint64_t length_;
  std::optional<PyRequestMut> loaned_;
};

/// A response loan that waits while its request has max_loaned_responses_per_request responses
/// loaned, as C++'s ActiveRequest::LoanOperation: listed with the stream's waits, so releasing
/// the ActiveRequest cancels it. Cancelled, it takes nothing.
class PyResponseLoanWait final : public PyWait {
 public:
  /// A loan of the fixed payload, or of a slice of `length` elements (which must be within
  /// the server's max: a loan that could never succeed fails here, it does not wait).
  PyResponseLoanWait(std::shared_ptr<ServerCore> core, const ServerCore::Active& active,
                     PayloadSizes sizes, std::uint64_t length = 0)
      : core_(std::move(core)), active_(active), sizes_(sizes), length_(length) {
    if (sizes_.response.slice) core_->check_slice_length(length_);
  }
  /// Leaves the reactor and the stream's list before core_ (maybe the last reference to the
  /// port that lists it) goes.
  ~PyResponseLoanWait() override { abandon(); }
  PyResponseMut result() {
    check();
    return std::move(*loaned_);
  }
  bool has_value() const noexcept { return loaned_.has_value() && !failed(); }
  /// One try before it waits: true when done, so a free loan never goes through the loop.
  bool try_complete() noexcept { return attempt(); }

 private:
  bool attempt() noexcept {
    std::uint32_t chunk = 0;
    ChunkView view;
    bool done = false;
    if (sizes_.response.slice) {
      done = core_->try_loan(active_, chunk, length_, view, failure());
    } else if ((done = core_->try_loan(active_, chunk))) {
      view = core_->chunk_view(active_, chunk);
    }
    if (!done) {
      if (!core_->damaged()) return false;
      core_->describe_damage(failure());
      return true;
    }
    if (failed()) return true;                                  // nothing was taken
    std::memset(view.payload, 0, sizes_.response.bytes(view));  // value-initialized, as loan()
    loaned_.emplace(core_, active_, view, chunk, sizes_);
    return true;
  }
  bool poll(const PollContext& context) noexcept override {
    if (context.peers_changed) core_->recheck_client(active_);
    return attempt();
  }
  floe::detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  void watch_processes(floe::detail::WakeSources& sources) const override {
    core_->watch_client(active_, sources);
  }
  floe::detail::PortOperations* port_operations() const noexcept override {
    return &core_->stream_operations(active_);
  }

  std::shared_ptr<ServerCore> core_;
  ServerCore::Active active_;
  PayloadSizes sizes_;
  std::uint64_t length_;
  std::optional<PyResponseMut> loaned_;
};

/// The wait for a server of the service, as C++'s Client::ServerWaitOperation: woken by the
/// server's creation (a published server port rings every client's doorbell). Its timeout is
/// the package's timer, which cancels it.
class PyServerWait final : public PyClientWait {
 public:
  explicit PyServerWait(std::shared_ptr<ClientCore> core) : PyClientWait(std::move(core)) {}
  bool result() const {
    check();
    return true;
  }
  bool has_value() const noexcept { return false; }

 private:
  bool attempt() noexcept override {
    return core_->number_of_live_servers() != 0 || record_damage();
  }
};

/// Binds what the package's _wait uses of an asyncio wait: begin, cancel, has_value, result.
template <typename Wait>
py::class_<Wait> bind_wait(py::module_& m, const char* name) {
  return py::class_<Wait>(m, name)
      .def("begin", &Wait::begin)
      .def("cancel", [](Wait& wait) { wait.cancel_wait(); })
      .def("has_value", &Wait::has_value)
      .def("result", &Wait::result);
}

/// The same, with try_complete() (declared by PyClientWait, which pybind11 does not know).
template <typename Wait>
py::class_<Wait> bind_client_wait(py::module_& m, const char* name) {
  return bind_wait<Wait>(m, name).def("try_complete",
                                      [](Wait& wait) { return wait.try_complete(); });
}

std::unique_ptr<PyResponseSend> PyResponseMut::send_operation() {
  view();
  return std::make_unique<PyResponseSend>(keep_, std::move(handle_));
}

bool PyResponseMut::send_bounded(double timeout_seconds) {
  view();
  const auto deadline = floe::detail::Operation::Clock::now() +
                        std::chrono::duration_cast<floe::detail::Operation::Clock::duration>(
                            std::chrono::duration<double>(timeout_seconds));
  const floe::detail::LoanedResponse held = handle_.held();
  ServerCore* core = handle_.hand_over();
  ServerCore::SendStatus status;
  if (core->backpressure() == floe::Backpressure::block) {
    py::gil_scoped_release unlocked;  // maybe asleep while the client makes room
    status = core->send(held.active, held.chunk, deadline);
  } else {
    status = core->send(held.active, held.chunk);
  }
  if (status == ServerCore::SendStatus::no_room) {
    throw floe::Error(floe::Errc::timed_out,
                      "floe: the client made no room for the response within the send's timeout "
                      "(Backpressure::block); the response was not sent. Give send() a longer "
                      "timeout, or use await send_async() in an asyncio server");
  }
  return status == ServerCore::SendStatus::delivered;
}

std::unique_ptr<PyRequestSend> PyRequestMut::send_operation() {
  view();
  return std::make_unique<PyRequestSend>(std::move(handle_), sizes_);
}

std::unique_ptr<PyLoanWait> PyClient::loan_operation() {
  sizes_.request.require(false, "request");
  return std::make_unique<PyLoanWait>(core().shared_from_this(), sizes_);
}

std::unique_ptr<PyLoanWait> PyClient::loan_slice_operation(std::uint64_t length) {
  sizes_.request.require(true, "request");
  return std::make_unique<PyLoanWait>(core().shared_from_this(), sizes_, length);
}

std::unique_ptr<PyResponseLoanWait> PyActiveRequest::loan_operation() {
  sizes_.response.require(false, "response");
  return std::make_unique<PyResponseLoanWait>(core().shared_from_this(), active(), sizes_);
}

std::unique_ptr<PyResponseLoanWait> PyActiveRequest::loan_slice_operation(std::uint64_t length) {
  sizes_.response.require(true, "response");
  return std::make_unique<PyResponseLoanWait>(core().shared_from_this(), active(), sizes_, length);
}

std::unique_ptr<PyServerWait> PyClient::server_wait_operation() {
  return std::make_unique<PyServerWait>(core().shared_from_this());
}

// Service ----------------------------------------------------------------------------------

/// The limit called `name` (a RequestResponseBuilder method's name); ValueError for none.
const floe::detail::LimitInfo& limit_named(const std::string& name) {
  for (const auto& limit : floe::detail::kLimits) {
    if (limit.name == name) return limit;
  }
  throw py::value_error("floe: no limit is named " + name);
}

/// Limits by name, as Python shows them (a flag is 0 or 1).
std::map<std::string, std::uint32_t> limits_by_name(const floe::RequestResponseLimits& limits) {
  std::map<std::string, std::uint32_t> values;
  for (const auto& limit : floe::detail::kLimits) {
    values.emplace(limit.name, floe::detail::limit_value(limits, limit.id));
  }
  return values;
}

class PyService {
 public:
  static floe::Backpressure backpressure(bool block) noexcept {
    return block ? floe::Backpressure::block : floe::Backpressure::discard;
  }
  /// floe.AllocationStrategy's value ("fixed", "power_of_two", "best_fit") as the C++ enum.
  static floe::AllocationStrategy allocation_strategy(const std::string& name) {
    if (name == "power_of_two") return floe::AllocationStrategy::power_of_two;
    if (name == "best_fit") return floe::AllocationStrategy::best_fit;
    if (name == "fixed") return floe::AllocationStrategy::fixed;
    throw py::value_error("floe: unknown allocation strategy '" + name + "'");
  }
  PyService(std::shared_ptr<floe::detail::ServiceSegment> segment, PayloadSizes sizes)
      : segment_(std::move(segment)), sizes_(sizes) {}

  PyClient create_client(std::optional<std::uint32_t> max_active_requests, bool block,
                         std::optional<std::uint64_t> initial_max_slice_len,
                         const std::string& strategy) {
    const std::uint32_t max =
        port_limit(max_active_requests, limits().max_active_requests_per_client,
                   "max_active_requests_per_client");
    return PyClient(
        std::make_shared<ClientCore>(
            segment_, max, backpressure(block),
            floe::detail::slice_policy(initial_max_slice_len, allocation_strategy(strategy))),
        sizes_);
  }
  PyServer create_server(std::optional<std::uint32_t> max_loaned_responses_per_request, bool block,
                         std::optional<std::uint64_t> initial_max_slice_len,
                         const std::string& strategy) {
    const std::uint32_t max =
        port_limit(max_loaned_responses_per_request, limits().max_loaned_responses_per_request,
                   "max_loaned_responses_per_request");
    return PyServer(
        std::make_shared<ServerCore>(
            segment_, max, backpressure(block),
            floe::detail::slice_policy(initial_max_slice_len, allocation_strategy(strategy))),
        sizes_);
  }
  std::string name() const { return floe::detail::service_name(*segment_); }
  floe::RequestResponseLimits limits() const noexcept {
    return floe::detail::service_limits(*segment_);
  }
  std::map<std::string, std::uint32_t> limits_by_name() const { return ::limits_by_name(limits()); }
  floe::ServiceUsage usage() const noexcept { return floe::detail::service_usage(*segment_); }
  const floe::AttributeSet& attributes() const noexcept {
    return floe::detail::service_attributes(*segment_);
  }

 private:
  std::shared_ptr<floe::detail::ServiceSegment> segment_;
  PayloadSizes sizes_;
};

floe::TypeInfo type_info(const TypeTuple& type) {
  return {std::get<0>(type), std::get<1>(type), std::get<2>(type)};
}

/// A user header type as Python gives it; none: the service has no user header there.
floe::TypeInfo user_header_info(const std::optional<TypeTuple>& type) {
  return type ? type_info(*type) : floe::TypeInfo::of<floe::NoUserHeader>();
}

PyService open_service(const floe::Node& node, const std::string& name, const TypeTuple& request,
                       const TypeTuple& response,
                       const std::map<std::string, std::uint32_t>& limits,
                       std::optional<std::uint64_t> request_payload_alignment,
                       std::optional<std::uint64_t> response_payload_alignment,
                       const std::string& mode, const std::optional<TypeTuple>& request_user_header,
                       const std::optional<TypeTuple>& response_user_header,
                       const floe::AttributeSpecifier* attributes,
                       const floe::AttributeVerifier* required_attributes, bool request_slice,
                       bool response_slice, std::optional<std::uint64_t> request_max_slice_len,
                       std::optional<std::uint64_t> response_max_slice_len) {
  const auto& state = floe::detail::NodeAccess::state(node);
  floe::detail::ServiceSpec spec;
  spec.name = name;
  // The TypeInfo names view `request` and `response`, which outlive open_service().
  spec.request = type_info(request);
  spec.response = type_info(response);
  spec.request.slice = request_slice;
  spec.response.slice = response_slice;
  spec.request_max_slice_len = request_max_slice_len;
  spec.response_max_slice_len = response_max_slice_len;
  spec.request_user_header = user_header_info(request_user_header);
  spec.response_user_header = user_header_info(response_user_header);
  if (attributes != nullptr) spec.attributes = *attributes;
  if (required_attributes != nullptr) spec.required_attributes = *required_attributes;
  spec.limits = state->config.request_response;
  for (const auto& [limit_name, value] : limits) {
    const floe::detail::LimitInfo& limit = limit_named(limit_name);
    floe::detail::set_limit_value(spec.limits, limit.id, value);
    spec.explicitly_set |= floe::detail::limit_bit(limit.id);
  }
  spec.request_payload_alignment = request_payload_alignment;
  spec.response_payload_alignment = response_payload_alignment;
  const std::map<std::string, floe::detail::OpenMode> modes = {
      {"create", floe::detail::OpenMode::create},
      {"open", floe::detail::OpenMode::open},
      {"open_or_create", floe::detail::OpenMode::open_or_create}};
  return PyService(floe::detail::open_service(*state, spec, modes.at(mode)),
                   {{std::get<1>(request), request_slice},
                    {std::get<1>(response), response_slice},
                    spec.request_user_header.size,
                    spec.response_user_header.size});
}

// Attributes, introspection and configuration ----------------------------------------------

/// Bytes read from shared memory or a file as a Python str: bytes that are not UTF-8 (a node
/// name may hold any) become surrogates, which str.encode("utf-8", "surrogateescape") turns
/// back into them, instead of failing the whole listing.
py::str text(const std::string& bytes) {
  PyObject* decoded =
      PyUnicode_DecodeUTF8(bytes.data(), static_cast<py::ssize_t>(bytes.size()), "surrogateescape");
  if (decoded == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(decoded);
}

/// An AttributeSet as [(key, value), ...], in its order.
py::list attribute_pairs(const floe::AttributeSet& attributes) {
  py::list pairs;
  for (const floe::Attribute& attribute : attributes) {
    pairs.append(py::make_tuple(text(attribute.key), text(attribute.value)));
  }
  return pairs;
}

py::dict usage_fields(const floe::ServiceUsage& usage) {
  py::dict fields;
  fields["request_chunks"] = usage.request_chunks;
  fields["request_chunks_in_use"] = usage.request_chunks_in_use;
  fields["response_chunks"] = usage.response_chunks;
  fields["response_chunks_in_use"] = usage.response_chunks_in_use;
  fields["nodes"] = usage.nodes;
  fields["clients"] = usage.clients;
  fields["servers"] = usage.servers;
  fields["segment_size"] = usage.segment_size;
  fields["data_segments"] = usage.data_segments;
  fields["data_segment_bytes"] = usage.data_segment_bytes;
  return fields;
}

/// A ServiceInfo's fields by name; nodes and usage as dicts of their fields (the package makes
/// dataclasses of them).
py::dict service_info_fields(const floe::ServiceInfo& info) {
  const std::map<floe::ServiceState, const char*> states = {
      {floe::ServiceState::live, "live"},
      {floe::ServiceState::stale, "stale"},
      {floe::ServiceState::damaged, "damaged"},
      {floe::ServiceState::inaccessible, "inaccessible"}};
  py::list nodes;
  for (const floe::NodeInfo& node : info.nodes) {
    py::dict fields;
    fields["name"] = text(node.name);
    fields["pid"] = node.pid;
    fields["alive"] = node.alive;
    fields["clients"] = node.clients;
    fields["servers"] = node.servers;
    nodes.append(fields);
  }
  py::dict fields;
  fields["name"] = text(info.name);
  fields["object"] = text(info.object);
  fields["state"] = states.at(info.state);
  fields["problem"] = text(info.problem);
  fields["owner"] = text(info.owner);
  fields["request_type"] = text(info.request_type);
  fields["response_type"] = text(info.response_type);
  fields["request_user_header_type"] = text(info.request_user_header_type);
  fields["response_user_header_type"] = text(info.response_user_header_type);
  fields["request_max_slice_len"] = info.request_max_slice_len;
  fields["response_max_slice_len"] = info.response_max_slice_len;
  fields["limits"] = limits_by_name(info.limits);
  fields["live_nodes"] = info.live_nodes;
  fields["dead_nodes"] = info.dead_nodes;
  fields["nodes"] = nodes;
  fields["usage"] = usage_fields(info.usage);
  return fields;
}

/// A Config as (domain, group_access, limits by name).
using ConfigTuple = std::tuple<std::string, bool, std::map<std::string, std::uint32_t>>;

ConfigTuple config_fields(const floe::Config& config) {
  return {config.domain, config.group_access, limits_by_name(config.request_response)};
}

/// The Config Python describes: limits it names replace the built-in defaults.
floe::Config config_from(const ConfigTuple& fields) {
  floe::Config config;
  config.domain = std::get<0>(fields);
  config.group_access = std::get<1>(fields);
  for (const auto& [limit_name, value] : std::get<2>(fields)) {
    floe::detail::set_limit_value(config.request_response, limit_named(limit_name).id, value);
  }
  return config;
}

/// A class registered earlier in the module, to add methods to in a block of their own.
template <typename Bound>
py::class_<Bound> registered(const py::module_& module, const char* name) {
  return py::reinterpret_borrow<py::class_<Bound>>(module.attr(name));
}

/// floe::Errc's names, in the order of their values, for the Python exception classes.
const std::pair<floe::Errc, const char*> kErrcNames[] = {
    {floe::Errc::invalid_name, "invalid_name"},
    {floe::Errc::service_does_not_exist, "service_does_not_exist"},
    {floe::Errc::service_already_exists, "service_already_exists"},
    {floe::Errc::incompatible_types, "incompatible_types"},
    {floe::Errc::incompatible_limits, "incompatible_limits"},
    {floe::Errc::exceeds_max_clients, "exceeds_max_clients"},
    {floe::Errc::exceeds_max_servers, "exceeds_max_servers"},
    {floe::Errc::exceeds_max_nodes, "exceeds_max_nodes"},
    {floe::Errc::exceeds_max_loans, "exceeds_max_loans"},
    {floe::Errc::exceeds_max_active_requests, "exceeds_max_active_requests"},
    {floe::Errc::timed_out, "timed_out"},
    {floe::Errc::cancelled, "cancelled"},
    {floe::Errc::corrupted, "corrupted"},
    {floe::Errc::invalid_config, "invalid_config"},
    {floe::Errc::no_runtime, "no_runtime"},
    {floe::Errc::io_setup_failed, "io_setup_failed"},
    {floe::Errc::permission_denied, "permission_denied"},
    {floe::Errc::out_of_memory, "out_of_memory"},
    {floe::Errc::incompatible_attributes, "incompatible_attributes"},
    {floe::Errc::invalid_attributes, "invalid_attributes"},
    {floe::Errc::no_server, "no_server"},
    {floe::Errc::no_response, "no_response"},
    {floe::Errc::exceeds_capacity, "exceeds_capacity"},
    {floe::Errc::exceeds_max_slice_len, "exceeds_max_slice_len"},
};

}  // namespace

PYBIND11_MODULE(_floe, m) {
  m.doc() = "floe's compiled core for the floe package (use `import floe`)";

  // floe::Error becomes the Python class registered for its code by the package
  // (floe.Error's subclasses), with C++'s message.
  error_classes = PyDict_New();
  m.attr("error_classes") = py::reinterpret_borrow<py::object>(error_classes);
  m.attr("errc_names") = [] {
    py::dict names;
    for (const auto& [code, name] : kErrcNames)
      names[py::int_(static_cast<int>(code))] = name;
    return names;
  }();
  m.attr("limit_names") = [] {
    py::list names;
    for (const auto& limit : floe::detail::kLimits)
      names.append(std::string(limit.name));
    return py::tuple(names);
  }();
  m.def("set_released_error",
        [](const py::object& type) { released_error = type.inc_ref().ptr(); });
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const floe::Error& e) {
      const py::int_ code(e.code().value());
      PyObject* type = PyDict_GetItem(error_classes, code.ptr());  // borrowed, or none
      PyErr_SetString(type != nullptr ? type : PyExc_RuntimeError,
                      in_python_words(e.what()).c_str());
    }
  });

  py::class_<floe::Node>(m, "Node")
      .def_static("create", [](const std::string& name) { return floe::Node::create(name); })
      .def_property_readonly("name", &floe::Node::name)
      .def("service_exists", &floe::Node::service_exists);

  m.def("open_service", &open_service);

  py::class_<PyService>(m, "Service")
      .def("create_client", &PyService::create_client, py::arg("max_active_requests"),
           py::arg("block") = false, py::arg("initial_max_slice_len") = std::nullopt,
           py::arg("allocation_strategy") = "fixed")
      .def("create_server", &PyService::create_server, py::arg("max_loaned_responses_per_request"),
           py::arg("block") = false, py::arg("initial_max_slice_len") = std::nullopt,
           py::arg("allocation_strategy") = "fixed")
      .def_property_readonly("name", &PyService::name)
      .def("limits", &PyService::limits_by_name);

  py::class_<PyClient>(m, "Client")
      .def("loan", &PyClient::loan)
      .def("loan_uninit", &PyClient::loan_uninit)
      .def("loan_slice", &PyClient::loan_slice)
      .def("loan_slice_uninit", &PyClient::loan_slice_uninit)
      .def("loan_copy", &PyClient::loan_copy)
      .def("send_copy", &PyClient::send_copy)
      .def("id", &PyClient::id)
      .def("number_of_servers", &PyClient::number_of_servers)
      .def("max_active_requests", &PyClient::max_active_requests)
      .def("release", &PyClient::release);
  py::class_<PyRequestMut>(m, "RequestMut")
      .def("held", &PyRequestMut::held)
      .def("payload", &PyRequestMut::payload)
      .def("header", &PyRequestMut::header)
      .def("send", &PyRequestMut::send)
      .def("release", &PyRequestMut::release);
  py::class_<PyPendingResponse>(m, "PendingResponse")
      .def("held", &PyPendingResponse::held)
      .def("try_receive", &PyPendingResponse::try_receive)
      .def("is_connected", &PyPendingResponse::is_connected)
      .def("has_response", &PyPendingResponse::has_response)
      .def("number_of_server_connections", &PyPendingResponse::number_of_server_connections)
      .def("number_of_overwritten_responses", &PyPendingResponse::number_of_overwritten_responses)
      .def("set_disconnect_hint", &PyPendingResponse::set_disconnect_hint)
      .def("payload", &PyPendingResponse::payload)
      .def("header", &PyPendingResponse::header)
      .def("release", &PyPendingResponse::release)
      .def("receive_operation", &PyPendingResponse::receive_operation);
  py::class_<PyResponse>(m, "Response")
      .def("held", &PyResponse::held)
      .def("payload", &PyResponse::payload)
      .def("header", &PyResponse::header)
      .def("release", &PyResponse::release);

  py::class_<PyServer>(m, "Server")
      .def("try_receive", &PyServer::try_receive)
      .def("has_requests", &PyServer::has_requests)
      .def("id", &PyServer::id)
      .def("max_loaned_responses_per_request", &PyServer::max_loaned_responses_per_request)
      .def("release", &PyServer::release)
      .def("receive_operation", &PyServer::receive_operation);
  py::class_<PyActiveRequest>(m, "ActiveRequest")
      .def("held", &PyActiveRequest::held)
      .def("payload", &PyActiveRequest::payload)
      .def("header", &PyActiveRequest::header)
      .def("is_connected", &PyActiveRequest::is_connected)
      .def("has_disconnect_hint", &PyActiveRequest::has_disconnect_hint)
      .def("loan", &PyActiveRequest::loan)
      .def("loan_uninit", &PyActiveRequest::loan_uninit)
      .def("loan_slice", &PyActiveRequest::loan_slice)
      .def("loan_slice_uninit", &PyActiveRequest::loan_slice_uninit)
      .def("release", &PyActiveRequest::release);
  py::class_<PyResponseMut>(m, "ResponseMut")
      .def("held", &PyResponseMut::held)
      .def("payload", &PyResponseMut::payload)
      .def("release", &PyResponseMut::release);

  py::class_<PyLoopWaiter>(m, "LoopWaiter")
      .def(py::init<>())
      .def("fd", &PyLoopWaiter::fd)
      .def("arm", &PyLoopWaiter::arm)
      .def("on_readable", &PyLoopWaiter::on_readable)
      .def("recheck", &PyLoopWaiter::recheck);
  py::class_<PyServerReceive>(m, "ServerReceive")
      .def("begin", &PyServerReceive::begin)
      .def("cancel", [](PyServerReceive& wait) { wait.cancel_wait(); })
      .def("has_value", &PyServerReceive::has_value)
      .def("result", &PyServerReceive::result);
  py::class_<PyStreamReceive>(m, "StreamReceive")
      .def("begin", &PyStreamReceive::begin)
      .def("cancel", [](PyStreamReceive& wait) { wait.cancel_wait(); })
      .def("has_value", &PyStreamReceive::has_value)
      .def("result", &PyStreamReceive::result);

  // User headers, service attributes, introspection and configuration.
  registered<PyRequestMut>(m, "RequestMut").def("user_header", &PyRequestMut::user_header);
  registered<PyPendingResponse>(m, "PendingResponse")
      .def("user_header", &PyPendingResponse::user_header);
  registered<PyResponse>(m, "Response").def("user_header", &PyResponse::user_header);
  registered<PyActiveRequest>(m, "ActiveRequest").def("user_header", &PyActiveRequest::user_header);
  registered<PyResponseMut>(m, "ResponseMut").def("user_header", &PyResponseMut::user_header);

  py::class_<floe::AttributeSpecifier>(m, "AttributeSpecifier")
      .def(py::init<>())
      .def("define", [](floe::AttributeSpecifier& specifier, std::string key,
                        std::string value) { specifier.define(std::move(key), std::move(value)); })
      .def("attributes", [](const floe::AttributeSpecifier& specifier) {
        return attribute_pairs(specifier.attributes());
      });
  py::class_<floe::AttributeVerifier>(m, "AttributeVerifier")
      .def(py::init<>())
      .def("require", [](floe::AttributeVerifier& verifier, std::string key,
                         std::string value) { verifier.require(std::move(key), std::move(value)); })
      .def("require_key", [](floe::AttributeVerifier& verifier,
                             std::string key) { verifier.require_key(std::move(key)); })
      .def("required_attributes",
           [](const floe::AttributeVerifier& verifier) {
             return attribute_pairs(verifier.required_attributes());
           })
      .def("required_keys", &floe::AttributeVerifier::required_keys)
      .def("unmet_requirement", [](const floe::AttributeVerifier& verifier,
                                   const std::vector<std::pair<std::string, std::string>>& pairs) {
        floe::AttributeSpecifier attributes;
        for (const auto& [key, value] : pairs)
          attributes.define(key, value);
        return verifier.unmet_requirement(attributes.attributes());
      });
  registered<PyService>(m, "Service")
      .def("attributes",
           [](const PyService& service) { return attribute_pairs(service.attributes()); })
      .def("usage", [](const PyService& service) { return usage_fields(service.usage()); });

  m.def("list_services", [](const floe::Node& node) {
    py::list services;
    for (const floe::ServiceInfo& info : node.list_services()) {
      services.append(service_info_fields(info));
    }
    return services;
  });
  m.def("clean_up_dead_nodes", [](const floe::Node& node) {
    const floe::DeadNodeCleanup cleanup = node.clean_up_dead_nodes();
    return std::make_tuple(cleanup.nodes, cleanup.ports, cleanup.removed_services,
                           cleanup.removed_data_segments);
  });
  m.def("create_node", [](const std::string& name, const ConfigTuple& config) {
    return floe::Node::create(name, config_from(config));
  });
  m.def("node_config", [](const floe::Node& node) { return config_fields(node.config()); });
  m.def("config_from_environment", [] { return config_fields(floe::Config::from_environment()); });
  m.def("config_from_file",
        [](const std::string& path) { return config_fields(floe::Config::from_file(path)); });
  m.def("default_config", [] { return config_fields(floe::Config{}); });
  // Flow control.
  bind_wait<PyResponseSend>(m, "ResponseSend").def("try_complete", &PyResponseSend::try_complete);
  bind_client_wait<PyRequestSend>(m, "RequestSend");
  bind_client_wait<PyLoanWait>(m, "LoanWait");
  bind_wait<PyResponseLoanWait>(m, "ResponseLoanWait")
      .def("try_complete", &PyResponseLoanWait::try_complete);
  bind_client_wait<PyServerWait>(m, "ServerWait");
  m.def("response_send_operation", &PyResponseMut::send_operation);
  m.def("response_send_bounded", &PyResponseMut::send_bounded);
  m.def("response_loan_copy", &PyActiveRequest::loan_copy);
  m.def("response_send_copy_bounded", &PyActiveRequest::send_copy_bounded);
  m.def("request_send_operation", &PyRequestMut::send_operation);
  m.def("client_loan_operation", &PyClient::loan_operation);
  m.def("client_loan_slice_operation", &PyClient::loan_slice_operation);
  m.def("response_loan_operation", &PyActiveRequest::loan_operation);
  m.def("response_loan_slice_operation", &PyActiveRequest::loan_slice_operation);
  m.def("client_server_wait_operation", &PyClient::server_wait_operation);
  m.def("pending_end_reason", &PyPendingResponse::end_reason);
}
