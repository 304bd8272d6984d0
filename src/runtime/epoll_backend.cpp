// The epoll backend, for where io_uring is unavailable. epoll cannot wait on a futex, so a
// helper thread waits on the doorbells with futex_waitv(2) and writes an eventfd that epoll
// watches; pidfds and the interrupt eventfd go into epoll directly. The extra thread hop makes a
// wake-up slower than with io_uring, and costs nothing while messages flow without sleeping.
// One futex_waitv call takes at most 128 words, one of them the thread's control word, so each
// helper thread watches a group of up to 127 doorbells; a loop waiting on more gets one more
// thread per 127 (created when first needed, kept until the backend goes).

#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "floe/error.hpp"
#include "platform/file_descriptor.hpp"
#include "runtime/backend.hpp"
#include "runtime/process_watches.hpp"

namespace floe::detail {
namespace {

struct FutexTarget {
  std::uint32_t* word;
  std::uint32_t expected;
  friend bool operator==(const FutexTarget&, const FutexTarget&) = default;
};

/// Doorbells one helper thread waits on: futex_waitv's limit less the control word.
constexpr std::size_t kDoorbellsPerThread = FUTEX_WAITV_MAX - 1;

/// Waits on up to kDoorbellsPerThread doorbells at once and signals an eventfd when one moves.
/// It never reads the words itself (they may be unmapped under it); the kernel does, and
/// reports a moved word as a wake-up or EAGAIN.
class DoorbellThread {
 public:
  explicit DoorbellThread(int signal_fd) : signal_fd_(signal_fd) {}
  DoorbellThread(const DoorbellThread&) = delete;
  DoorbellThread& operator=(const DoorbellThread&) = delete;
  ~DoorbellThread() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      bump_control();
    }
    wake_control();
    thread_.join();
  }

  /// Replaces what the thread waits on with `count` (at most kDoorbellsPerThread) targets.
  void set(const FutexTarget* targets, std::size_t count) {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    {
      std::lock_guard lock(mutex_);
      targets_.assign(targets, targets + count);  // reuses the capacity: no allocation
      bump_control();
    }
    wake_control();
  }

 private:
  void bump_control() noexcept {
    std::atomic_ref<std::uint32_t>(control_).fetch_add(1, std::memory_order_release);
  }
  void wake_control() noexcept {
    ::syscall(SYS_futex, &control_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  void signal() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(signal_fd_, &one, sizeof one);
  }

  void run() {
    std::vector<futex_waitv> waits;
    std::vector<FutexTarget> snapshot;
    waits.reserve(FUTEX_WAITV_MAX);
    for (;;) {
      std::uint32_t control = 0;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        control = std::atomic_ref<std::uint32_t>(control_).load(std::memory_order_acquire);
        snapshot = targets_;
      }
      waits.clear();
      waits.push_back(futex_waitv{control, reinterpret_cast<std::uintptr_t>(&control_),
                                  FUTEX_32 | FUTEX_PRIVATE_FLAG, 0});
      for (const FutexTarget& t : snapshot) {
        if (waits.size() == FUTEX_WAITV_MAX) break;  // never: set() hands over no more
        waits.push_back(
            futex_waitv{t.expected, reinterpret_cast<std::uintptr_t>(t.word), FUTEX_32, 0});
      }
      const long woken = ::syscall(SYS_futex_waitv, waits.data(),
                                   static_cast<unsigned>(waits.size()), 0, nullptr, 0);
      if (woken == 0) continue;  // the set changed
      if (woken < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (std::atomic_ref<std::uint32_t>(control_).load(std::memory_order_acquire) != control) {
        continue;  // replaced meanwhile: whatever moved is looked at by the loop anyway
      }
      if (woken > 0) {
        // That doorbell fired: the loop re-arms it with its new value.
        const FutexTarget fired = snapshot[static_cast<std::size_t>(woken) - 1];
        std::erase(targets_, fired);
      } else {
        // EAGAIN: some word had moved on already (EFAULT: a mapping went away). Let the loop
        // look at everything and hand over a fresh set.
        targets_.clear();
      }
      signal();
    }
  }

  int signal_fd_;
  std::mutex mutex_;
  std::vector<FutexTarget> targets_;
  std::uint32_t control_ = 0;  // futex word: bumped whenever targets_ changes
  bool stopping_ = false;
  std::thread thread_;
};

class EpollBackend final : public Backend {
 public:
  EpollBackend(FileDescriptor epoll, FileDescriptor interrupt, FileDescriptor doorbell_signal)
      : epoll_(std::move(epoll)),
        interrupt_(std::move(interrupt)),
        doorbell_signal_(std::move(doorbell_signal)) {
    add(interrupt_.get(), pack_event(EventKind::interrupt, 0, 0));
    add(doorbell_signal_.get(), pack_event(EventKind::doorbell, 0, 0));
    wanted_.reserve(8);
    given_.reserve(8);
    processes_.reserve(16);
    groups_.reserve(4);
  }

  bool is_io_uring() const noexcept override { return false; }

  void begin_watch() noexcept override {
    wanted_.clear();
    processes_.begin_pass();
  }

  void watch_futex(std::uint32_t* word, std::uint32_t expected) override {
    for (FutexTarget& t : wanted_) {
      if (t.word == word) {
        t.expected = expected;
        return;
      }
    }
    wanted_.push_back(FutexTarget{word, expected});
  }

  bool watch_process(const ProcessIdentity& process) override {
    bool opened = false;
    ProcessWatches::Watch* watch = processes_.find_or_open(process, opened);
    if (watch == nullptr) return false;
    if (opened && !add(watch->handle.get(), pack_event(EventKind::process, watch->generation,
                                                       processes_.index_of(*watch)))) {
      ProcessWatches::drop(*watch);
      return false;
    }
    return true;
  }

  Events wait(std::optional<Clock::time_point> deadline) override {
    submit();
    const timespec timeout = deadline ? timespec_until<timespec>(*deadline) : timespec{};
    return collect(deadline ? &timeout : nullptr);
  }

  void submit() override {
    if (processes_.should_sweep()) {
      for (ProcessWatches::Watch& p : processes_.entries()) {
        if (p.handle && !p.wanted) drop(p);
      }
    }
    if (wanted_ != given_) {
      hand_over();
      given_ = wanted_;
    }
  }

  Events take_events() override {
    const timespec now{};
    return collect(&now);
  }

  int pollable_fd() const noexcept override { return epoll_.get(); }

  void interrupt() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(interrupt_.get(), &one, sizeof one);
  }

 private:
  Events collect(const timespec* timeout) {
    epoll_event ready[16];
    const int n = ::epoll_pwait2(epoll_.get(), ready, 16, timeout, nullptr);
    Events events;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t data = ready[i].data.u64;
      switch (event_kind(data)) {
        case EventKind::interrupt:
          drain(interrupt_.get());
          break;
        case EventKind::doorbell:
          drain(doorbell_signal_.get());
          given_.clear();  // the thread dropped what fired; hand the set over again
          break;
        case EventKind::process:
          if (ProcessWatches::Watch* p = processes_.from_event(data)) {
            drop(*p);
            events.peer_exited = true;
          }
          break;
        case EventKind::ignored:
          break;
      }
    }
    return events;
  }

  /// Splits wanted_ into groups of kDoorbellsPerThread, one per helper thread; a thread whose
  /// group became empty is emptied too, so it stops waking for doorbells no longer wanted.
  void hand_over() {
    const std::size_t needed = (wanted_.size() + kDoorbellsPerThread - 1) / kDoorbellsPerThread;
    while (groups_.size() < needed) {
      groups_.push_back(Group{std::make_unique<DoorbellThread>(doorbell_signal_.get()), 0});
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const std::size_t first = std::min(g * kDoorbellsPerThread, wanted_.size());
      const std::size_t count = std::min(kDoorbellsPerThread, wanted_.size() - first);
      Group& group = groups_[g];
      if (count == 0 && group.given == 0) continue;  // empty already
      group.thread->set(wanted_.data() + first, count);
      group.given = count;
    }
  }

  bool add(int fd, std::uint64_t data) noexcept {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = data;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
  }
  void drop(ProcessWatches::Watch& p) noexcept {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, p.handle.get(), nullptr);
    ProcessWatches::drop(p);
  }
  static void drain(int fd) noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
  }

  FileDescriptor epoll_;
  FileDescriptor interrupt_;
  FileDescriptor doorbell_signal_;
  std::vector<FutexTarget> wanted_;
  std::vector<FutexTarget> given_;
  ProcessWatches processes_;
  struct Group {
    std::unique_ptr<DoorbellThread> thread;
    std::size_t given = 0;  // targets last handed to it
  };
  // Last: the threads stop before the eventfd they write closes.
  std::vector<Group> groups_;
};

}  // namespace

std::unique_ptr<Backend> make_epoll_backend() {
  FileDescriptor epoll(::epoll_create1(EPOLL_CLOEXEC));
  FileDescriptor interrupt(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  FileDescriptor doorbell_signal(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll || !interrupt || !doorbell_signal) {
    throw Error(Errc::io_setup_failed, "floe: cannot create epoll and eventfds for the runtime");
  }
  return std::make_unique<EpollBackend>(std::move(epoll), std::move(interrupt),
                                        std::move(doorbell_signal));
}

}  // namespace floe::detail
