#pragma once
// Real processes for multi-process tests: fork a child that runs a function, wait for it with
// a bound, kill it. Every wait here has a timeout so a bug fails a test instead of hanging it.

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <floe/config.hpp>

namespace floe::test {

using namespace std::chrono_literals;

/// A fresh domain per test process, so tests running at once never share a service. The pid
/// alone repeats across runs, and a run killed midway (a timeout) leaves its objects behind: a
/// random tag per process keeps a later test from meeting them.
inline Config isolated_config() {
  static std::atomic<int> counter{0};
  static const std::string run_tag = std::to_string(std::random_device{}() % 1000000);
  Config config;
  config.domain =
      "test" + std::to_string(::getpid()) + "_" + run_tag + "_" + std::to_string(counter++);
  return config;
}

/// One-way signal between processes, with a bounded wait.
class Signal {
 public:
  Signal() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  }
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  ~Signal() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  void notify(char value = 1) const {
    if (::write(fds_[1], &value, 1) != 1) std::perror("Signal::notify");
  }
  /// The value sent, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout = 10s) const {
    pollfd p{fds_[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    char value = 0;
    return ::read(fds_[0], &value, 1) == 1 ? value : -1;
  }

 private:
  int fds_[2];
};

/// A time point both sides of a fork see: steady_clock is CLOCK_MONOTONIC, one clock for every
/// process of the host. Create it before the fork.
class SharedTimePoint {
 public:
  SharedTimePoint()
      : ticks_(static_cast<std::atomic<std::int64_t>*>(::mmap(nullptr, sizeof(std::int64_t),
                                                              PROT_READ | PROT_WRITE,
                                                              MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
    if (ticks_ == MAP_FAILED) throw std::runtime_error("mmap");
  }
  SharedTimePoint(const SharedTimePoint&) = delete;
  SharedTimePoint& operator=(const SharedTimePoint&) = delete;
  ~SharedTimePoint() { ::munmap(ticks_, sizeof(std::int64_t)); }

  void set_now() const {
    ticks_->store(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  std::chrono::steady_clock::time_point get() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(ticks_->load()));
  }

 private:
  std::atomic<std::int64_t>* ticks_;
};

/// A forked child running `body`; its return value is the exit code. The destructor kills a
/// child still running, so a failing test leaves no process behind.
class ChildProcess {
 public:
  explicit ChildProcess(std::function<int()> body) {
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      int code = 99;
      try {
        code = body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", ::getpid(), e.what());
        code = 98;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// The moved-from object no longer owns the child.
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), reaped_(other.reaped_) {
    other.reaped_ = true;
  }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  pid_t pid() const noexcept { return pid_; }

  /// The child's exit code, -1 if it did not end in time (it is then killed), 128 + signal if
  /// a signal ended it.
  int wait(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        reaped_ = true;
        return -1;
      }
      std::this_thread::sleep_for(1ms);
    }
  }

  /// SIGKILL, and reap: the child is gone when this returns.
  void kill() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// In a child the test means to SIGKILL: waits for that, but ends on its own after `timeout` so
/// a test that forgets to kill it cannot leave it behind for long.
inline int wait_to_be_killed(std::chrono::milliseconds timeout = 60s) {
  std::this_thread::sleep_for(timeout);
  return 0;
}

/// In a child of a root test process: become another user, with exactly these supplementary
/// groups. False if any switch failed (not root).
inline bool become_user(uid_t uid, gid_t gid, std::initializer_list<gid_t> groups = {}) {
  const std::vector<gid_t> list(groups);
  return ::setgroups(list.size(), list.empty() ? nullptr : list.data()) == 0 &&
         ::setgid(gid) == 0 && ::setuid(uid) == 0;
}

/// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

/// In a child: unless `condition` holds, say where and leave with exit code 1, through
/// `return_keyword` (return in a function, co_return in a coroutine).
#define FLOE_CHILD_CHECK_OR(return_keyword, condition)                                   \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      return_keyword 1;                                                                  \
    }                                                                                    \
  } while (false)

/// In a child: fail with a line number as exit code context.
#define FLOE_CHILD_CHECK(condition) FLOE_CHILD_CHECK_OR(return, condition)

/// The same inside a coroutine returning Task<int>.
#define FLOE_CHILD_CO_CHECK(condition) FLOE_CHILD_CHECK_OR(co_return, condition)

}  // namespace floe::test
