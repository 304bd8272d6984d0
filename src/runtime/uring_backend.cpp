// The io_uring backend: one ring per runtime. Doorbells are waited on with IORING_OP_FUTEX_WAIT
// (kernel 6.7+), peers with POLL_ADD on their pidfds, interrupts with POLL_ADD on an eventfd.
// Everything wanted is submitted together with the wait, so going to sleep is one syscall.

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "platform/file_descriptor.hpp"
#include "runtime/backend.hpp"
#include "runtime/process_watches.hpp"

namespace floe::detail {
namespace {

// Debian 12's liburing (2.3) predates the futex opcodes; their numbers are kernel ABI.
constexpr std::uint8_t kOpFutexWait = 51;
constexpr std::uint32_t kFutex2SizeU32 = 0x02;  // shared: no FUTEX2_PRIVATE
constexpr std::uint64_t kFutexMatchAny = 0xffffffffu;

class UringBackend final : public Backend {
 public:
  UringBackend() {
    std::memset(&ring_, 0, sizeof ring_);
    // Room for the usual few ports and peers, so that sleeping allocates nothing.
    futexes_.reserve(8);
    processes_.reserve(16);
  }
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
    interrupt_ = FileDescriptor(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    return has_futex && interrupt_;
  }

  bool is_io_uring() const noexcept override { return true; }

  void begin_watch() noexcept override {
    for (FutexWatch& f : futexes_)
      f.wanted = false;
    processes_.begin_pass();
  }

  void watch_futex(std::uint32_t* word, std::uint32_t expected) override {
    FutexWatch* free_entry = nullptr;
    for (FutexWatch& f : futexes_) {
      if (f.word == word) {
        f.wanted = true;
        if (f.expected != expected) {
          // A request in flight waits for an older value; a fresh one replaces it.
          f.expected = expected;
          f.in_flight = false;
          ++f.generation;
        }
        return;
      }
      if (f.word == nullptr && free_entry == nullptr) free_entry = &f;
    }
    if (free_entry == nullptr) free_entry = &futexes_.emplace_back();
    free_entry->word = word;
    free_entry->expected = expected;
    free_entry->wanted = true;
    free_entry->in_flight = false;
    ++free_entry->generation;
  }

  bool watch_process(const ProcessIdentity& process) override {
    bool opened = false;
    return processes_.find_or_open(process, opened) != nullptr;
  }

  Events wait(std::optional<Clock::time_point> deadline) override {
    prepare();
    __kernel_timespec timeout =
        deadline ? timespec_until<__kernel_timespec>(*deadline) : __kernel_timespec{};
    io_uring_cqe* cqe = nullptr;
    const int result =
        io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, deadline ? &timeout : nullptr, nullptr);
    if (result < 0 && result != -ETIME && result != -EINTR && result != -EBUSY) {
      // Nothing sensible is left to wait on; returning lets the loop poll and try again.
      return {};
    }
    return reap();
  }

  void submit() override {
    prepare();
    io_uring_submit(&ring_);
  }

  Events take_events() override {
    // Completions of futex waits are posted by task work that runs when this thread enters
    // the kernel; the thread may have been woken for the ring fd before it ran.
    if (io_uring_cq_ready(&ring_) == 0) io_uring_get_events(&ring_);
    return reap();
  }

  int pollable_fd() const noexcept override { return ring_.ring_fd; }

  void interrupt() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(interrupt_.get(), &one, sizeof one);
  }

 private:
  struct FutexWatch {
    std::uint32_t* word = nullptr;  // nullptr: a free entry
    std::uint32_t expected = 0;
    std::uint32_t generation = 0;
    bool in_flight = false;
    bool wanted = false;
  };

  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void cancel(std::uint64_t data) {
    if (io_uring_sqe* sqe = next_sqe()) {
      io_uring_prep_cancel64(sqe, data, 0);
      io_uring_sqe_set_data64(sqe, pack_event(EventKind::ignored, 0, 0));
    }
  }

  void prepare() {
    for (std::uint32_t i = 0; i < futexes_.size(); ++i) {
      FutexWatch& f = futexes_[i];
      if (f.word == nullptr) continue;
      if (!f.wanted) {
        if (f.in_flight) cancel(pack_event(EventKind::doorbell, f.generation, i));
        f = FutexWatch{nullptr, 0, f.generation + 1, false, false};
        continue;
      }
      if (f.in_flight) continue;
      io_uring_sqe* sqe = next_sqe();
      if (sqe == nullptr) continue;
      io_uring_prep_rw(kOpFutexWait, sqe, static_cast<int>(kFutex2SizeU32), f.word, 0, f.expected);
      sqe->addr3 = kFutexMatchAny;
      io_uring_sqe_set_data64(sqe, pack_event(EventKind::doorbell, f.generation, i));
      f.in_flight = true;
    }
    const bool sweep = processes_.should_sweep();
    for (ProcessWatches::Watch& p : processes_.entries()) {
      if (!p.handle) continue;
      const std::uint64_t data =
          pack_event(EventKind::process, p.generation, processes_.index_of(p));
      if (!p.wanted && sweep) {
        if (p.in_flight) cancel(data);
        ProcessWatches::drop(p);
        continue;
      }
      if (p.in_flight) continue;
      io_uring_sqe* sqe = next_sqe();
      if (sqe == nullptr) continue;
      io_uring_prep_poll_add(sqe, p.handle.get(), POLLIN);
      io_uring_sqe_set_data64(sqe, data);
      p.in_flight = true;
    }
    if (!interrupt_in_flight_) {
      if (io_uring_sqe* sqe = next_sqe()) {
        io_uring_prep_poll_add(sqe, interrupt_.get(), POLLIN);
        io_uring_sqe_set_data64(sqe, pack_event(EventKind::interrupt, 0, 0));
        interrupt_in_flight_ = true;
      }
    }
  }

  Events reap() {
    Events events;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const std::uint64_t data = cqe->user_data;
      switch (event_kind(data)) {
        case EventKind::doorbell: {
          const std::uint32_t index = event_index(data);
          if (index < futexes_.size() &&
              (futexes_[index].generation & 0x3fffffffu) == event_generation(data)) {
            futexes_[index].in_flight = false;
          }
          break;
        }
        case EventKind::process:
          if (ProcessWatches::Watch* p = processes_.from_event(data)) {
            p->in_flight = false;
            if (cqe->res > 0) {
              events.peer_exited = true;
              ProcessWatches::drop(*p);
            }
          }
          break;
        case EventKind::interrupt: {
          interrupt_in_flight_ = false;
          std::uint64_t count = 0;
          [[maybe_unused]] const ssize_t n = ::read(interrupt_.get(), &count, sizeof count);
          break;
        }
        case EventKind::ignored:
          break;
      }
    }
    io_uring_cq_advance(&ring_, seen);
    return events;
  }

  io_uring ring_;
  bool initialized_ = false;
  FileDescriptor interrupt_;
  bool interrupt_in_flight_ = false;
  std::vector<FutexWatch> futexes_;
  ProcessWatches processes_;
};

}  // namespace

std::unique_ptr<Backend> make_io_uring_backend() {
  auto backend = std::make_unique<UringBackend>();
  if (!backend->init()) return nullptr;
  return backend;
}

}  // namespace floe::detail
