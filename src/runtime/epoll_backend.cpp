// The epoll backend, for where io_uring is unavailable. epoll cannot wait on a futex, so a
// helper thread waits on the doorbells with futex_waitv(2) and writes an eventfd that epoll
// watches; pidfds and the interrupt eventfd go into epoll directly. The extra thread hop makes a
// wake-up slower than with io_uring, and costs nothing while messages flow without sleeping.
// One futex_waitv call takes at most 128 words, one of them the thread's control word, so each
// helper thread watches a group of up to 127 doorbells; a loop waiting on more gets one more
// thread per 127 (created when first needed, kept until the backend goes).

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "platform/event_fd.hpp"
#include "platform/file_descriptor.hpp"
#include "platform/futex.hpp"
#include "runtime/backend.hpp"

namespace floe::detail {
namespace {

struct FutexTarget {
  std::uint32_t* word;
  std::uint32_t expected;
  friend bool operator==(const FutexTarget&, const FutexTarget&) = default;
};

/// Doorbells one helper thread waits on: futex_waitv's limit less the control word.
constexpr std::size_t kDoorbellsPerThread = kFutexWaitAnyMax - 1;

/// Waits on up to kDoorbellsPerThread doorbells at once and signals an eventfd when one moves.
/// It never reads the words itself (they may be unmapped under it); the kernel does, and
/// reports a moved word as a wake-up or EAGAIN.
class DoorbellThread {
 public:
  explicit DoorbellThread(const EventFd& signal) : signal_(signal) {}
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
  void wake_control() noexcept { futex_wake_one_private(&control_); }

  void run() {
    std::vector<futex_waitv> waits;
    std::vector<FutexTarget> snapshot;
    waits.reserve(kFutexWaitAnyMax);
    for (;;) {
      std::uint32_t control = 0;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        control = std::atomic_ref<std::uint32_t>(control_).load(std::memory_order_acquire);
        snapshot = targets_;
      }
      waits.clear();
      waits.push_back(futex_wait_entry(&control_, control, /*shared=*/false));
      for (const FutexTarget& t : snapshot) {
        if (waits.size() == kFutexWaitAnyMax) break;  // never: set() hands over no more
        waits.push_back(futex_wait_entry(t.word, t.expected, /*shared=*/true));
      }
      const long woken = futex_wait_any(waits.data(), waits.size());
      if (woken == 0) continue;  // the set changed
      if (woken == -EINTR) continue;
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
      signal_.signal();
    }
  }

  const EventFd& signal_;
  std::mutex mutex_;
  std::vector<FutexTarget> targets_;
  std::uint32_t control_ = 0;  // futex word: bumped whenever targets_ changes
  bool stopping_ = false;
  std::thread thread_;
};

class EpollBackend final : public Backend {
 public:
  explicit EpollBackend(FileDescriptor epoll) : epoll_(std::move(epoll)) {
    if (!add(interrupt_.get(), pack_event(EventKind::interrupt, 0, 0)) ||
        !add(doorbell_signal_.get(), pack_event(EventKind::doorbell, 0, 0))) {
      fail_call("epoll_ctl", errno);
    }
    handed_over_.reserve(8);
    groups_.reserve(4);
  }

  bool is_io_uring() const noexcept override { return false; }

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
    // The helper threads get the whole set again whenever a doorbell joined, left or moved on.
    bool changed = doorbells_.drop_unwanted([](const DoorbellWatches::Watch&) {});
    for (const DoorbellWatches::Watch& w : doorbells_.entries()) {
      if (w.word != nullptr && !w.armed) changed = true;
    }
    if (changed) hand_over();
  }

  Events take_events() override {
    const timespec now{};
    return collect(&now);
  }

  int pollable_fd() const noexcept override { return epoll_.get(); }

  void interrupt() noexcept override { interrupt_.signal(); }

 private:
  Events collect(const timespec* timeout) {
    epoll_event ready[16];
    const int n = ::epoll_pwait2(epoll_.get(), ready, 16, timeout, nullptr);
    if (n < 0 && errno != EINTR) fail_call("epoll_pwait2", errno);
    Events events;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t data = ready[i].data.u64;
      switch (event_kind(data)) {
        case EventKind::interrupt:
          interrupt_.drain();
          break;
        case EventKind::doorbell:
          doorbell_signal_.drain();
          doorbells_.disarm_all();  // the thread dropped what fired; hand the set over again
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

  /// Splits the wanted doorbells into groups of kDoorbellsPerThread, one per helper thread; a
  /// thread whose group became empty is emptied too, so it stops waking for doorbells no longer
  /// wanted.
  void hand_over() {
    handed_over_.clear();  // reuses the capacity: no allocation once grown
    for (DoorbellWatches::Watch& w : doorbells_.entries()) {
      if (w.word == nullptr) continue;
      handed_over_.push_back(FutexTarget{w.word, w.expected});
      w.armed = true;
    }
    const std::size_t wanted = handed_over_.size();
    const std::size_t needed = (wanted + kDoorbellsPerThread - 1) / kDoorbellsPerThread;
    while (groups_.size() < needed) {
      groups_.push_back(Group{std::make_unique<DoorbellThread>(doorbell_signal_), 0});
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const std::size_t first = std::min(g * kDoorbellsPerThread, wanted);
      const std::size_t count = std::min(kDoorbellsPerThread, wanted - first);
      Group& group = groups_[g];
      if (count == 0 && group.given == 0) continue;  // empty already
      group.thread->set(handed_over_.data() + first, count);
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
    // Cannot fail for a pidfd that was added; closing it would remove it from epoll anyway.
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, p.handle.get(), nullptr);
    ProcessWatches::drop(p);
  }

  FileDescriptor epoll_;
  EventFd interrupt_;
  EventFd doorbell_signal_;
  std::vector<FutexTarget> handed_over_;  // the doorbells the helper threads last got
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
  if (!epoll) {
    fail_call("epoll_create1", errno);
  }
  return std::make_unique<EpollBackend>(std::move(epoll));
}

}  // namespace floe::detail
