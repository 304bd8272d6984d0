// When the runtime spins before it sleeps (runtime/spin_policy.hpp). Spinning pays while the peer
// runs on another core; when the peer needs this very core it cannot run until the spin gives
// the core up, so the loop learns to sleep at once. First the decision on its own, then two
// processes doing round trips on one CPU and on two.

#include "runtime/spin_policy.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using detail::SpinPolicy;

// After a futile spin the data came this soon (a peer on this core), or after a pause this long.
constexpr std::chrono::microseconds kSoon{10};
constexpr std::chrono::milliseconds kPause{5};

TEST(SpinPolicy, SpinsAsLongAsSpinningPays) {
  SpinPolicy policy;
  for (int wait = 0; wait < 1000; ++wait) {
    ASSERT_TRUE(policy.should_spin()) << wait;
    policy.spin_paid();
  }
}

TEST(SpinPolicy, PausesInTheTrafficDoNotStopTheSpinning) {
  SpinPolicy policy;
  for (int wait = 0; wait < 1000; ++wait) {
    ASSERT_TRUE(policy.should_spin()) << wait;
    policy.slept_after_spin(kPause);
  }
}

TEST(SpinPolicy, AfterFutileSpinsInARowOnlyOneWaitInSoManySpins) {
  SpinPolicy policy;
  for (std::uint32_t wait = 0; wait < SpinPolicy::kFutileBeforeSkipping; ++wait) {
    ASSERT_TRUE(policy.should_spin()) << wait;
    policy.slept_after_spin(kSoon);
  }
  int spins = 0;
  for (std::uint32_t wait = 0; wait < 10 * SpinPolicy::kProbeEvery; ++wait) {
    if (!policy.should_spin()) continue;
    ++spins;
    policy.slept_after_spin(kSoon);
  }
  EXPECT_EQ(spins, 10);
}

TEST(SpinPolicy, AProbeThatPaysBringsTheSpinningBack) {
  SpinPolicy policy;
  for (std::uint32_t wait = 0; wait < SpinPolicy::kFutileBeforeSkipping; ++wait) {
    policy.should_spin();
    policy.slept_after_spin(kSoon);
  }
  ASSERT_FALSE(policy.should_spin());
  while (!policy.should_spin()) {
  }
  policy.spin_paid();
  for (int wait = 0; wait < 100; ++wait) {
    ASSERT_TRUE(policy.should_spin()) << wait;
    policy.spin_paid();
  }
}

TEST(SpinPolicy, OneSpinThatPaysOutweighsTheFutileOnesBeforeIt) {
  SpinPolicy policy;
  for (int round = 0; round < 100; ++round) {
    for (std::uint32_t wait = 0; wait + 1 < SpinPolicy::kFutileBeforeSkipping; ++wait) {
      ASSERT_TRUE(policy.should_spin());
      policy.slept_after_spin(kSoon);
    }
    ASSERT_TRUE(policy.should_spin());
    policy.spin_paid();
  }
}

/// The CPUs this process may run on.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

/// The share of the last `window` during which `cpu` ran nothing (from /proc/stat), or -1 when
/// it cannot be read.
double idle_share(int cpu, std::chrono::milliseconds window) {
  const auto read = [cpu](std::uint64_t& idle, std::uint64_t& total) {
    std::ifstream stat("/proc/stat");
    const std::string label = "cpu" + std::to_string(cpu);
    for (std::string line; std::getline(stat, line);) {
      std::istringstream fields(line);
      std::string name;
      fields >> name;
      if (name != label) continue;
      idle = total = 0;
      std::uint64_t value = 0;
      for (int column = 0; fields >> value; ++column) {
        total += value;
        if (column == 3 || column == 4) idle += value;  // idle, iowait
      }
      return true;
    }
    return false;
  };
  std::uint64_t idle_before = 0, total_before = 0, idle_after = 0, total_after = 0;
  if (!read(idle_before, total_before)) return -1;
  std::this_thread::sleep_for(window);
  if (!read(idle_after, total_after) || total_after == total_before) return -1;
  return static_cast<double>(idle_after - idle_before) /
         static_cast<double>(total_after - total_before);
}

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

class SharedCore : public U64ServiceTest {
 protected:
  static constexpr std::uint64_t kRoundTrips = 2000;
  static constexpr std::uint64_t kStop = ~std::uint64_t{0};

  /// kRoundTrips round trips between a client pinned to `client_cpu` and a server pinned to
  /// `server_cpu`, each a process waiting in a Runtime with the default options: how many
  /// times the client's loop spun per round trip, or -1 if the round trips failed.
  double client_spins_per_round_trip(int client_cpu, int server_cpu) {
    auto service = builder().create();
    void* shared =
        ::mmap(nullptr, sizeof(double), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return -1;
    auto* result = static_cast<double*>(shared);
    *result = -1;
    ChildProcess client([&] {
      FLOE_CHILD_CHECK(pin_to(client_cpu));
      ChildProcess server = started([&](const Signal& ready) {
        FLOE_CHILD_CHECK(pin_to(server_cpu));
        auto port = open_as("server").server_builder().create();
        Runtime runtime;
        ready.notify();
        return runtime.block_on([&]() -> Task<int> {
          for (;;) {
            auto request = co_await with_timeout(port.receive(), 10s);
            const std::uint64_t value = request.payload();
            request.send_copy(value);
            if (value == kStop) co_return 0;
          }
        });
      });
      auto port = open_as("client").client_builder().create();
      Runtime runtime;
      const int failures = runtime.block_on([&]() -> Task<int> {
        int wrong = 0;
        for (std::uint64_t i = 0; i <= kRoundTrips; ++i) {
          const std::uint64_t value = i < kRoundTrips ? i : kStop;
          auto pending = port.send_copy(value);
          auto response = co_await with_timeout(pending.receive(), 10s);
          if (!response || response->payload() != value) ++wrong;
        }
        co_return wrong;
      });
      FLOE_CHILD_CHECK(failures == 0);
      FLOE_CHILD_CHECK(server.wait() == 0);
      *result = static_cast<double>(runtime.stats().spins) / static_cast<double>(kRoundTrips);
      return 0;
    });
    const int code = client.wait(60s);
    const double spins = code == 0 ? *result : -1;
    ::munmap(shared, sizeof(double));
    return spins;
  }
};

// Pinned to one CPU, each side's spin kept the other from answering: every round trip cost two
// spin budgets (1 spin per round trip, ~60 us a round trip instead of ~15 us). Now the loops
// spin on a few waits only. Three tries: a loaded machine may slow one down (a sleep longer
// than SpinPolicy::kSoonAfter does not count as futile).
TEST_F(SharedCore, LoopsOnOneCpuStopSpinningAtEachOther) {
  const std::vector<int> cpus = allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  double fewest = 2;
  for (int attempt = 0; attempt < 3 && fewest > 0.25; ++attempt) {
    const double spins = client_spins_per_round_trip(cpus[0], cpus[0]);
    ASSERT_GE(spins, 0) << "the round trips failed";
    std::fprintf(stderr, "one cpu, attempt %d: %.3f spins per round trip\n", attempt, spins);
    fewest = std::min(fewest, spins);
  }
  EXPECT_LE(fewest, 0.25);  // ~0.05 here: 16 futile spins, then one wait in 16
}

// On two CPUs the spins pay (the answer comes within the budget): the loop keeps spinning. Only
// while the other CPU is free for the peer: a busy neighbour there makes the spins futile and the
// loop rightly sleeps. Hence RUN_SERIAL (tests/CMakeLists.txt), and an attempt counts only when
// both CPUs were idle just before it; a machine that never has two idle CPUs within the tries
// cannot show the behaviour (a CI run on a busy host: the test is skipped, saying so).
TEST_F(SharedCore, LoopsOnTwoCpusKeepSpinning) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Instrumented, a round trip can take longer than the spin budget even with both CPUs free
  // (0.2 spins per round trip on the CI host under a sanitizer): the spins are futile there and
  // the loop rightly sleeps. What this observes is a matter of timing, which only the plain
  // build shows; the sanitizer builds still run the policy's own tests above.
  GTEST_SKIP() << "timing under a sanitizer is not the timing the spin budget is made for";
#endif
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "one CPU only";
  constexpr double kIdleEnough = 0.9;
  double most = 0;
  int measured = 0;
  double busiest = 1;
  for (int attempt = 0; attempt < 20 && measured < 5 && most < 0.5; ++attempt) {
    const double idle = std::min(idle_share(cpus[0], 200ms), idle_share(cpus[1], 200ms));
    if (idle >= 0 && idle < kIdleEnough) {
      std::fprintf(stderr, "two cpus, attempt %d: skipped, CPUs only %.0f%% idle\n", attempt,
                   idle * 100);
      busiest = std::min(busiest, idle);
      continue;
    }
    ++measured;
    const double spins = client_spins_per_round_trip(cpus[0], cpus[1]);
    ASSERT_GE(spins, 0) << "the round trips failed";
    std::fprintf(stderr, "two cpus, attempt %d: %.3f spins per round trip\n", attempt, spins);
    most = std::max(most, spins);
  }
  if (measured == 0) {
    GTEST_SKIP() << "the machine is busy: CPUs " << cpus[0] << " and " << cpus[1]
                 << " were never both idle (at best " << busiest * 100 << "%)";
  }
  EXPECT_GE(most, 0.5);  // ~1 here
}

}  // namespace
}  // namespace floe::test
