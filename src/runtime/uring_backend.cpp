// The io_uring backend: one ring per runtime. Doorbells are waited on with IORING_OP_FUTEX_WAIT
// (kernel 6.7+), peers with POLL_ADD on their pidfds, interrupts with POLL_ADD on an eventfd.
// Everything wanted is submitted together with the wait, so going to sleep is one syscall.
//
// Every return of liburing is looked at. Transient failures (a submission queue without room
// because the kernel refused entries for now: EAGAIN, EBUSY; a signal: EINTR) leave what could
// not be armed unarmed and make the wait end at once, so the next pass arms it again; anything
// else is a floe::Error(Errc::io_setup_failed) naming the call.

#include <liburing.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "platform/event_fd.hpp"
#include "runtime/backend.hpp"

namespace floe::detail {
namespace {

// Debian 12's liburing (2.3) predates the futex opcodes; their numbers are kernel ABI.
constexpr std::uint8_t kOpFutexWait = 51;
constexpr std::uint32_t kFutex2SizeU32 = 0x02;  // shared: no FUTEX2_PRIVATE
constexpr std::uint64_t kFutexMatchAny = 0xffffffffu;

/// A failure that goes away by itself: try again on the next pass.
bool is_transient(int error) noexcept {
  return error == EAGAIN || error == EBUSY || error == EINTR;
}

class UringBackend final : public Backend {
 public:
  UringBackend() { std::memset(&ring_, 0, sizeof ring_); }
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;
  ~UringBackend() override {
    if (initialized_) io_uring_queue_exit(&ring_);
  }

  /// False when the kernel refuses a ring or lacks the futex opcode.
  bool init() {
    if (io_uring_queue_init(64, &ring_, 0) != 0) return false;
    initialized_ = true;
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    const bool has_futex = probe != nullptr && io_uring_opcode_supported(probe, kOpFutexWait);
    if (probe != nullptr) io_uring_free_probe(probe);
    return has_futex;
  }

  bool is_io_uring() const noexcept override { return true; }

  bool watch_process(const ProcessIdentity& process) override {
    bool opened = false;
    return processes_.find_or_open(process, opened) != nullptr;
  }

  Events wait(std::optional<Clock::time_point> deadline) override {
    const bool armed_all = prepare();
    // Something left unarmed: do not sleep, the next pass arms it.
    __kernel_timespec timeout =
        deadline && armed_all ? timespec_until<__kernel_timespec>(*deadline) : __kernel_timespec{};
    const bool timed = deadline.has_value() || !armed_all;
    io_uring_cqe* cqe = nullptr;
    const int result =
        io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timed ? &timeout : nullptr, nullptr);
    if (result < 0 && result != -ETIME && !is_transient(-result)) {
      fail_call("io_uring_submit_and_wait_timeout", -result);
    }
    return reap();
  }

  void submit() override {
    const bool armed_all = prepare();
    const bool submitted = submit_queued();
    if (armed_all && submitted) return;
    // Something is not with the kernel: the ring fd must turn readable all the same, so that
    // the loop comes back and arms it. A pending completion makes it so; else the interrupt.
    if (io_uring_cq_ready(&ring_) > 0) return;
    if (!submitted || !interrupt_in_flight_) fail_call("io_uring_submit", EAGAIN);
    interrupt_.signal();
  }

  Events take_events() override {
    // Completions of futex waits are posted by task work that runs when this thread enters
    // the kernel; the thread may have been woken for the ring fd before it ran.
    if (io_uring_cq_ready(&ring_) == 0) {
      const int result = io_uring_get_events(&ring_);
      if (result < 0 && !is_transient(-result)) fail_call("io_uring_get_events", -result);
    }
    return reap();
  }

  int pollable_fd() const noexcept override { return ring_.ring_fd; }

  void interrupt() noexcept override { interrupt_.signal(); }

 private:
  /// Submits what is queued. False if the kernel took nothing for now.
  bool submit_queued() {
    const int result = io_uring_submit(&ring_);
    if (result < 0 && !is_transient(-result)) fail_call("io_uring_submit", -result);
    return result >= 0;
  }

  /// A submission queue entry, submitting what is queued to make room if need be; nullptr
  /// when the kernel takes nothing for now.
  io_uring_sqe* next_sqe() {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
    if (!submit_queued()) return nullptr;
    return io_uring_get_sqe(&ring_);
  }

  bool cancel(std::uint64_t data) {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) return false;
    io_uring_prep_cancel64(sqe, data, 0);
    io_uring_sqe_set_data64(sqe, pack_event(EventKind::ignored, 0, 0));
    return true;
  }

  /// Queues every request wanted and not in flight, and cancels those no longer wanted. False
  /// if the submission queue had no room for all of them.
  bool prepare() {
    bool armed_all = true;
    // The interrupt first: with it in flight, whatever else lacks room can still end a wait.
    if (!interrupt_in_flight_) {
      if (io_uring_sqe* sqe = next_sqe()) {
        io_uring_prep_poll_add(sqe, interrupt_.get(), POLLIN);
        io_uring_sqe_set_data64(sqe, pack_event(EventKind::interrupt, 0, 0));
        interrupt_in_flight_ = true;
      } else {
        armed_all = false;
      }
    }
    // A cancellation without room is not needed for correctness: the request completes some
    // day, and its generation no longer matches.
    doorbells_.drop_unwanted(
        [&](const DoorbellWatches::Watch& w) { (void)cancel(doorbells_.event_of(w)); });
    for (DoorbellWatches::Watch& f : doorbells_.entries()) {
      if (f.word == nullptr || f.armed) continue;
      io_uring_sqe* sqe = next_sqe();
      if (sqe == nullptr) {
        armed_all = false;
        continue;
      }
      io_uring_prep_rw(kOpFutexWait, sqe, static_cast<int>(kFutex2SizeU32), f.word, 0, f.expected);
      sqe->addr3 = kFutexMatchAny;
      io_uring_sqe_set_data64(sqe, doorbells_.event_of(f));
      f.armed = true;
    }
    const bool sweep = processes_.should_sweep();
    for (ProcessWatches::Watch& p : processes_.entries()) {
      if (!p.handle) continue;
      const std::uint64_t data =
          pack_event(EventKind::process, p.generation, processes_.index_of(p));
      if (!p.wanted && sweep) {
        if (p.in_flight) (void)cancel(data);
        ProcessWatches::drop(p);
        continue;
      }
      if (p.in_flight) continue;
      io_uring_sqe* sqe = next_sqe();
      if (sqe == nullptr) {
        armed_all = false;
        continue;
      }
      io_uring_prep_poll_add(sqe, p.handle.get(), POLLIN);
      io_uring_sqe_set_data64(sqe, data);
      p.in_flight = true;
    }
    return armed_all;
  }

  /// Takes every completion. Each result is looked at; one no retry mends is thrown once the
  /// queue is consumed.
  Events reap() {
    Events events;
    int failure = 0;
    const char* failed_request = nullptr;
    const auto unexpected = [&](const char* request, int res) {
      if (failure == 0) {
        failure = -res;
        failed_request = request;
      }
    };
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const std::uint64_t data = cqe->user_data;
      const int res = cqe->res;
      switch (event_kind(data)) {
        case EventKind::doorbell:
          // 0: woken; EAGAIN: the word had moved on already; ECANCELED: no longer wanted;
          // EFAULT: the word's mapping went, its port with it. Each: the loop looks again.
          if (res < 0 && res != -EAGAIN && res != -ECANCELED && res != -EFAULT && res != -EINTR) {
            unexpected("io_uring futex wait", res);
          }
          if (DoorbellWatches::Watch* f = doorbells_.from_event(data)) f->armed = false;
          break;
        case EventKind::process:
          if (res < 0 && res != -ECANCELED) unexpected("io_uring poll of a pidfd", res);
          if (ProcessWatches::Watch* p = processes_.from_event(data)) {
            p->in_flight = false;
            if (res > 0) {
              events.peer_exited = true;
              ProcessWatches::drop(*p);
            }
          }
          break;
        case EventKind::interrupt:
          if (res < 0 && res != -ECANCELED)
            unexpected("io_uring poll of the interrupt eventfd", res);
          interrupt_in_flight_ = false;
          interrupt_.drain();
          break;
        case EventKind::ignored:
          // A cancellation: ENOENT and EALREADY mean the request completed or is completing.
          if (res < 0 && res != -ENOENT && res != -EALREADY) unexpected("io_uring cancel", res);
          break;
      }
    }
    io_uring_cq_advance(&ring_, seen);
    if (failure != 0) fail_call(failed_request, failure);
    return events;
  }

  io_uring ring_;
  bool initialized_ = false;
  EventFd interrupt_;
  bool interrupt_in_flight_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_io_uring_backend() {
  auto backend = std::make_unique<UringBackend>();
  if (!backend->init()) return nullptr;
  return backend;
}

}  // namespace floe::detail
