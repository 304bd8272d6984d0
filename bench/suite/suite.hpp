#pragma once
// What every row of the comparison suite (floe_bench_suite) shares: where client and server run
// (FLOE_BENCH_PLACEMENT), how many samples a row takes (FLOE_BENCH_QUICK), the forked server,
// per-message timing into percentiles, and the cost counters (CPU time, heap allocations, system
// calls) that go into the Google Benchmark JSON next to them.
//
// A row is one Google Benchmark named "<workload>/<transport>/<mode>", e.g.
// "round_trip/floe/polling"; scripts/bench.sh runs them all in one process, repetitions
// interleaved at random so drift of a shared machine hits every row alike.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../allocation_counter.hpp"
#include "../harness.hpp"

namespace floe::bench {

/// Where the two processes of a row run: each pinned to its own core (cpu 0 client, cpu 1
/// server), left to the scheduler, or both pinned to cpu 0.
enum class Placement { pinned, unpinned, one_core };
/// From FLOE_BENCH_PLACEMENT: "pinned" (the default), "unpinned" or "one-core".
Placement placement();
const char* placement_name();
/// Pins the calling (client) process as the placement says.
void place_client();
/// The same for a server process.
void place_server();

/// FLOE_BENCH_QUICK=1: every row takes a twentieth of its samples (for CI and a first look).
bool quick();
/// `full` samples, or its quick share (at least 200).
std::int64_t samples(std::int64_t full);

/// A unique floe domain / socket path / service name part for one row's run.
std::string unique_name(const char* what);

/// A forked server process placed as the placement says. `body` runs there and its return value
/// is the exit status. finish() waits for it (killing it after `timeout`) and returns the CPU
/// time it used; the destructor does the same if finish() was not called.
class ForkedServer {
 public:
  explicit ForkedServer(std::function<int()> body);
  ForkedServer(const ForkedServer&) = delete;
  ForkedServer& operator=(const ForkedServer&) = delete;
  ~ForkedServer();
  /// Waits for the exit; its CPU time (user + system), in ns. A non-zero exit or a kill after
  /// `timeout` marks the run failed (failed() true).
  std::int64_t finish(std::chrono::seconds timeout = std::chrono::seconds(30));
  bool failed() const noexcept { return failed_; }
  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  bool failed_ = false;
};

/// A flag in memory shared with the forked server: it raises it when it is ready to serve.
class ReadyFlag {
 public:
  void raise() noexcept;
  /// False after `timeout`.
  bool wait(std::chrono::seconds timeout = std::chrono::seconds(20)) const noexcept;

 private:
  SharedAnonymous<std::atomic<std::uint32_t>> flag_;
};

/// CPU time of this process so far (user + system), in ns.
std::int64_t cpu_time_ns();

/// Per-message latencies of one row, reported as Google Benchmark counters (ns): p0 (min), p10,
/// p25, p50, p75, p90, p99, p99_9, p100 (max).
class Latencies {
 public:
  explicit Latencies(std::int64_t count) { samples_.reserve(static_cast<std::size_t>(count)); }
  void add(std::int64_t ns) { samples_.push_back(ns); }
  void report(benchmark::State& state);

 private:
  std::vector<std::int64_t> samples_;
};

/// Runs `one(i)` for every iteration of `state`, after `warmup` untimed calls, timing each call
/// on its own: the row's time is their mean (UseManualTime) and its counters the percentiles.
/// Also counts this process's heap allocations during the timed calls (allocs_per_op).
template <typename One>
void time_each(benchmark::State& state, std::int64_t warmup, One&& one) {
  using Clock = std::chrono::steady_clock;
  for (std::int64_t i = 0; i < warmup; ++i)
    one(i);
  Latencies latencies(state.max_iterations);
  std::int64_t i = warmup;
  const std::uint64_t allocations_before = allocations();
  for (auto _ : state) {
    const auto start = Clock::now();
    one(i++);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
    state.SetIterationTime(static_cast<double>(ns.count()) * 1e-9);
    latencies.add(ns.count());
  }
  const std::uint64_t allocated = allocations() - allocations_before;
  state.counters["allocs_per_op"] =
      static_cast<double>(allocated) / static_cast<double>(state.iterations());
  latencies.report(state);
}

/// What time_each records, for a loop that cannot be one callable: a coroutine that co_awaits
/// each message runs `for (auto _ : state)` itself. Construct it after the warmup (it starts
/// counting allocations), call record(start) at the end of each iteration, report() after the
/// loop: the same manual time, percentiles and allocs_per_op as time_each.
class EachTiming {
 public:
  using Clock = std::chrono::steady_clock;
  explicit EachTiming(benchmark::State& state)
      : state_(state), latencies_(state.max_iterations), allocations_before_(allocations()) {}
  void record(Clock::time_point start) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
    state_.SetIterationTime(static_cast<double>(ns.count()) * 1e-9);
    latencies_.add(ns.count());
  }
  void report() {
    const std::uint64_t allocated = allocations() - allocations_before_;
    state_.counters["allocs_per_op"] =
        static_cast<double>(allocated) / static_cast<double>(state_.iterations());
    latencies_.report(state_);
  }

 private:
  benchmark::State& state_;
  Latencies latencies_;
  std::uint64_t allocations_before_;
};

/// Bounds a client's waits without a clock read in its timed loop: a thread looks once a second
/// whether the client called tick() since, and after `limit` without one raises stalled() and
/// calls `on_stall` (e.g. floe::Runtime::stop or asio::io_context::stop, both safe from another
/// thread). A polling loop checks stalled() instead; the row then reports SkipWithError.
/// Create it after the ForkedServer (a fork copies only the forking thread).
class StallWatchdog {
 public:
  explicit StallWatchdog(std::function<void()> on_stall = {},
                         std::chrono::seconds limit = std::chrono::seconds(5));
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;
  ~StallWatchdog();
  /// The client made progress. Called by one thread only, so a plain store suffices.
  void tick() noexcept {
    progress_.store(progress_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  bool stalled() const noexcept { return stalled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> progress_{0};
  std::atomic<bool> stalled_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

/// Reports cost counters: CPU ns per message of client and server together (cpu_ns_per_op).
void report_cpu(benchmark::State& state, std::int64_t client_cpu_ns, std::int64_t server_cpu_ns,
                std::int64_t messages);

/// Counts the system calls of the calling thread, and of the threads it starts from then on,
/// with perf_event_open(2) on the tracepoint raw_syscalls:sys_enter. While any such counter is
/// open the kernel takes its slower syscall path for every thread of the machine (2 % on a
/// sleeping round trip), so rows count in an untimed stretch (SyscallWindow). Where the kernel,
/// tracefs or FLOE_BENCH_SYSCALLS=0 rules it out, count() is -1 and syscall_counting() says why.
class SyscallCounter {
 public:
  SyscallCounter();
  SyscallCounter(const SyscallCounter&) = delete;
  SyscallCounter& operator=(const SyscallCounter&) = delete;
  ~SyscallCounter();
  /// System calls since construction (the counter's own reads not included), or -1.
  std::int64_t count() const noexcept;

 private:
  int fd_ = -1;
  std::int64_t start_ = 0;
};

/// "raw_syscalls:sys_enter" where SyscallCounter counts, else "n/a: <why>" (for the context of
/// the JSON, which the report quotes when syscalls_per_op is absent).
std::string syscall_counting();

/// System calls one process counted over some messages: the forked server writes its own into
/// memory shared with the client (SharedAnonymous<SyscallTally>) before it exits.
struct SyscallTally {
  std::int64_t calls = -1;  // -1: not counted
  std::int64_t messages = 0;
};

/// Counts the system calls of messages [warmup / 2, warmup) of a row, the second half of its
/// warmup: steady by then, and untimed. Each side (client, forked server) has its own and calls
/// begin(i) before its message i (0 the first) and end(i) after it; the rest pass at a compare.
class SyscallWindow {
 public:
  explicit SyscallWindow(std::int64_t warmup) noexcept : first_(warmup / 2), last_(warmup - 1) {}
  void begin(std::int64_t message) {
    if (message == first_) counter_.emplace();
  }
  void end(std::int64_t message) {
    if (message != last_ || !counter_) return;
    tally_ = {counter_->count(), last_ - first_ + 1};
    counter_.reset();
  }
  /// What was counted: calls -1 until end(last), or if nothing could be counted.
  const SyscallTally& tally() const noexcept { return tally_; }

 private:
  std::int64_t first_;
  std::int64_t last_;
  std::optional<SyscallCounter> counter_;
  SyscallTally tally_;
};

/// Reports syscalls_per_op: the client's system calls per message plus the server's, each over
/// the messages it counted; absent unless both counted.
void report_syscalls(benchmark::State& state, const SyscallTally& client,
                     const SyscallTally& server);

/// Registers a latency row: `body` is run by Google Benchmark with manual time and `count`
/// iterations (samples(count) of them).
benchmark::internal::Benchmark* register_row(const std::string& name, std::int64_t count,
                                             void (*body)(benchmark::State&));

/// Registers a row run once as a whole (a stream, a fan-in, an idle wait, a segment): one
/// iteration, whose time `body` sets (manual time), shown in ms.
template <typename Body>
benchmark::internal::Benchmark* register_whole_run(const std::string& name, Body body) {
  return benchmark::RegisterBenchmark(name.c_str(), std::move(body))
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

/// Registers a row whose transport is not installed: it reports an error that says so (the
/// table shows "not installed: <why>"), and nothing else breaks.
void register_missing(const std::string& name, const std::string& why);

}  // namespace floe::bench
