#pragma once
// A percentile harness for latencies between two processes: each side pinned to its own core,
// every round trip timed on its own, results as median / p99 / p99.9.

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace floe::bench {

inline void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity");
}

struct Summary {
  std::string name;
  double median_ns;
  double p99_ns;
  double p999_ns;
};

inline Summary summarize(std::string name, std::vector<std::int64_t>& samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return static_cast<double>(samples[static_cast<std::size_t>(q * (samples.size() - 1))]);
  };
  return Summary{std::move(name), at(0.5), at(0.99), at(0.999)};
}

/// Times `round_trip` once per element of `samples`, after `warmup` untimed calls. Allocates
/// nothing itself, so allocation counts around it are the round trips' own.
template <typename RoundTrip>
void measure_into(std::vector<std::int64_t>& samples, std::size_t warmup, RoundTrip&& round_trip) {
  for (std::size_t i = 0; i < warmup; ++i)
    round_trip(i);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    round_trip(warmup + i);
    samples[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  }
}

template <typename RoundTrip>
std::vector<std::int64_t> measure(std::size_t warmup, std::size_t count, RoundTrip&& round_trip) {
  std::vector<std::int64_t> samples(count);
  measure_into(samples, warmup, round_trip);
  return samples;
}

/// Memory shared with a forked peer (MAP_SHARED | MAP_ANONYMOUS): the raw baselines use it.
template <typename T>
class SharedAnonymous {
 public:
  SharedAnonymous() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    value_ = new (p) T{};
  }
  SharedAnonymous(const SharedAnonymous&) = delete;
  SharedAnonymous& operator=(const SharedAnonymous&) = delete;
  ~SharedAnonymous() { ::munmap(value_, sizeof(T)); }
  T* operator->() const { return value_; }
  T& operator*() const { return *value_; }

 private:
  T* value_;
};

/// The peer side of a benchmark, in a forked process pinned to `cpu`.
class Peer {
 public:
  Peer(int cpu, std::function<int()> body) {
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      pin_to_cpu(cpu);
      ::_exit(body());
    }
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  ~Peer() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

 private:
  pid_t pid_;
};

inline void print_table(const std::vector<Summary>& rows, const Summary& baseline) {
  std::printf("| %-44s | %10s | %10s | %10s | %15s |\n", "round trip", "median ns", "p99 ns",
              "p99.9 ns", "median / raw");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(12, '-').c_str(),
              std::string(12, '-').c_str(), std::string(12, '-').c_str(),
              std::string(17, '-').c_str());
  for (const Summary& row : rows) {
    std::printf("| %-44s | %10.0f | %10.0f | %10.0f | %15.2f |\n", row.name.c_str(), row.median_ns,
                row.p99_ns, row.p999_ns, row.median_ns / baseline.median_ns);
  }
}

/// Samples a baseline and floe, each a function (warmup, count) -> samples, in rounds that
/// alternate between them, so that drift of a shared machine hits both: `count` samples each
/// in all, a tenth of a round's as warm-up. Prints both rows, the baseline first.
template <typename Baseline, typename Floe>
void compare_in_alternating_rounds(std::size_t count, const std::string& baseline_name,
                                   Baseline baseline, const std::string& floe_name, Floe floe) {
  constexpr std::size_t kRounds = 5;
  const std::size_t per_round = count / kRounds;
  std::vector<std::int64_t> raw, floe_rt;
  for (std::size_t round = 0; round < kRounds; ++round) {
    const auto r = baseline(per_round / 10, per_round);
    raw.insert(raw.end(), r.begin(), r.end());
    const auto f = floe(per_round / 10, per_round);
    floe_rt.insert(floe_rt.end(), f.begin(), f.end());
  }
  std::printf("%zu samples each in %zu alternating rounds, client on cpu 0, peer on cpu 1\n\n",
              raw.size(), kRounds);
  const Summary base = summarize(baseline_name, raw);
  print_table({base, summarize(floe_name, floe_rt)}, base);
}

}  // namespace floe::bench
