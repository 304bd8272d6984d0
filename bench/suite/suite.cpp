#include "suite.hpp"

#include <linux/perf_event.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

namespace floe::bench {
namespace {

Placement read_placement() {
  const char* value = std::getenv("FLOE_BENCH_PLACEMENT");
  if (value == nullptr || std::strcmp(value, "pinned") == 0) return Placement::pinned;
  if (std::strcmp(value, "unpinned") == 0) return Placement::unpinned;
  if (std::strcmp(value, "one-core") == 0) return Placement::one_core;
  std::fprintf(stderr, "FLOE_BENCH_PLACEMENT: pinned, unpinned or one-core, not \"%s\"\n", value);
  std::exit(2);
}

std::int64_t ns_of(const timeval& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(t.tv_usec) * 1'000;
}

/// The id of the tracepoint raw_syscalls:sys_enter (from tracefs, wherever it is mounted), or -1.
long sys_enter_tracepoint_id() {
  for (const char* tracefs : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::ifstream file(std::string(tracefs) + "/events/raw_syscalls/sys_enter/id");
    long id = -1;
    if (file >> id) return id;
  }
  return -1;
}

/// A counter of the calling thread's system calls and of its threads to come; -1 and `why` if
/// it cannot be had.
int open_syscall_counter(std::string* why) {
  const char* wanted = std::getenv("FLOE_BENCH_SYSCALLS");
  if (wanted != nullptr && std::strcmp(wanted, "0") == 0) {
    if (why) *why = "n/a: FLOE_BENCH_SYSCALLS=0";
    return -1;
  }
  const long id = sys_enter_tracepoint_id();
  if (id < 0) {
    if (why) *why = "n/a: tracefs not available (no raw_syscalls/sys_enter/id)";
    return -1;
  }
  perf_event_attr attributes{};
  attributes.type = PERF_TYPE_TRACEPOINT;
  attributes.size = sizeof attributes;
  attributes.config = static_cast<std::uint64_t>(id);
  attributes.inherit = 1;
  const long fd = ::syscall(SYS_perf_event_open, &attributes, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    if (why) *why = std::string("n/a: perf_event_open: ") + std::strerror(errno);
    return -1;
  }
  return static_cast<int>(fd);
}

std::int64_t read_counter(int fd) {
  std::uint64_t value = 0;
  if (::read(fd, &value, sizeof value) != sizeof value) return -1;
  return static_cast<std::int64_t>(value);
}

}  // namespace

Placement placement() {
  static const Placement value = read_placement();
  return value;
}

const char* placement_name() {
  switch (placement()) {
    case Placement::pinned:
      return "pinned";
    case Placement::unpinned:
      return "unpinned";
    case Placement::one_core:
      return "one-core";
  }
  return "?";
}

void place_client() {
  if (placement() != Placement::unpinned) pin_to_cpu(0);
}

void place_server() {
  if (placement() == Placement::pinned) pin_to_cpu(1);
  if (placement() == Placement::one_core) pin_to_cpu(0);
}

bool quick() {
  const char* value = std::getenv("FLOE_BENCH_QUICK");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

std::int64_t samples(std::int64_t full) {
  return quick() ? std::max<std::int64_t>(200, full / 20) : full;
}

std::string unique_name(const char* what) {
  static std::atomic<int> next{0};
  return std::string("bench-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(next.fetch_add(1));
}

ForkedServer::ForkedServer(std::function<int()> body) {
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid_ == 0) {
    place_server();
    int status = 1;
    try {
      status = body();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "bench server: %s\n", error.what());
    }
    std::fflush(nullptr);
    ::_exit(status);
  }
}

ForkedServer::~ForkedServer() {
  if (pid_ > 0) finish();
}

std::int64_t ForkedServer::finish(std::chrono::seconds timeout) {
  if (pid_ <= 0) return 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  rusage usage{};
  for (;;) {
    const pid_t done = ::wait4(pid_, &status, WNOHANG, &usage);
    if (done == pid_) break;
    if (done < 0) {
      failed_ = true;
      pid_ = -1;
      return 0;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "bench server %d did not finish: killed\n", pid_);
      ::kill(pid_, SIGKILL);
      ::wait4(pid_, &status, 0, &usage);
      failed_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed_ = true;
  pid_ = -1;
  return ns_of(usage.ru_utime) + ns_of(usage.ru_stime);
}

void ReadyFlag::raise() noexcept {
  flag_->store(1, std::memory_order_release);
}

bool ReadyFlag::wait(std::chrono::seconds timeout) const noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (flag_->load(std::memory_order_acquire) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::int64_t cpu_time_ns() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return ns_of(usage.ru_utime) + ns_of(usage.ru_stime);
}

StallWatchdog::StallWatchdog(std::function<void()> on_stall, std::chrono::seconds limit) {
  thread_ = std::thread([this, on_stall = std::move(on_stall), limit] {
    std::unique_lock lock(mutex_);
    std::uint64_t seen = progress_.load(std::memory_order_relaxed);
    auto last_progress = std::chrono::steady_clock::now();
    while (!done_) {
      wake_.wait_for(lock, std::chrono::seconds(1));
      const std::uint64_t now_seen = progress_.load(std::memory_order_relaxed);
      const auto now = std::chrono::steady_clock::now();
      if (now_seen != seen) {
        seen = now_seen;
        last_progress = now;
      } else if (!done_ && now - last_progress > limit) {
        std::fprintf(stderr, "bench client: no progress for %lld s, giving up\n",
                     static_cast<long long>(limit.count()));
        stalled_.store(true, std::memory_order_relaxed);
        if (on_stall) on_stall();
        return;
      }
    }
  });
}

StallWatchdog::~StallWatchdog() {
  {
    const std::lock_guard lock(mutex_);
    done_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Latencies::report(benchmark::State& state) {
  if (samples_.empty()) return;
  std::sort(samples_.begin(), samples_.end());
  auto at = [&](double q) {
    return static_cast<double>(
        samples_[static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1))]);
  };
  state.counters["p0"] = at(0.0);
  state.counters["p10"] = at(0.10);
  state.counters["p25"] = at(0.25);
  state.counters["p50"] = at(0.50);
  state.counters["p75"] = at(0.75);
  state.counters["p90"] = at(0.90);
  state.counters["p99"] = at(0.99);
  state.counters["p99_9"] = at(0.999);
  state.counters["p100"] = at(1.0);
}

void report_cpu(benchmark::State& state, std::int64_t client_cpu_ns, std::int64_t server_cpu_ns,
                std::int64_t messages) {
  if (messages <= 0) return;
  state.counters["cpu_ns_per_op"] =
      static_cast<double>(client_cpu_ns + server_cpu_ns) / static_cast<double>(messages);
}

SyscallCounter::SyscallCounter() : fd_(open_syscall_counter(nullptr)) {
  if (fd_ >= 0) start_ = read_counter(fd_);
}

SyscallCounter::~SyscallCounter() {
  if (fd_ >= 0) ::close(fd_);
}

std::int64_t SyscallCounter::count() const noexcept {
  if (fd_ < 0 || start_ < 0) return -1;
  const std::int64_t now = read_counter(fd_);
  // Each read counts itself: now - start_ holds this read, and not the one that took start_.
  return now < 0 ? -1 : now - start_ - 1;
}

std::string syscall_counting() {
  std::string why = "raw_syscalls:sys_enter";
  const int fd = open_syscall_counter(&why);
  if (fd >= 0) ::close(fd);
  return why;
}

void report_syscalls(benchmark::State& state, const SyscallTally& client,
                     const SyscallTally& server) {
  if (client.calls < 0 || server.calls < 0 || client.messages <= 0 || server.messages <= 0) return;
  state.counters["syscalls_per_op"] =
      static_cast<double>(client.calls) / static_cast<double>(client.messages) +
      static_cast<double>(server.calls) / static_cast<double>(server.messages);
}

benchmark::internal::Benchmark* register_row(const std::string& name, std::int64_t count,
                                             void (*body)(benchmark::State&)) {
  return benchmark::RegisterBenchmark(name.c_str(), body)
      ->UseManualTime()
      ->Iterations(samples(count))
      ->Unit(benchmark::kNanosecond);
}

void register_missing(const std::string& name, const std::string& why) {
  benchmark::RegisterBenchmark(name.c_str(), [why](benchmark::State& state) {
    state.SkipWithError(("not installed: " + why).c_str());
    for (auto _ : state) {
    }
  })->Iterations(1);
}

}  // namespace floe::bench
