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
// loop rightly sleeps. Hence RUN_SERIAL (tests/CMakeLists.txt) and five tries against load from
// outside the suite.
TEST_F(SharedCore, LoopsOnTwoCpusKeepSpinning) {
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "one CPU only";
  double most = 0;
  for (int attempt = 0; attempt < 5 && most < 0.5; ++attempt) {
    const double spins = client_spins_per_round_trip(cpus[0], cpus[1]);
    ASSERT_GE(spins, 0) << "the round trips failed";
    std::fprintf(stderr, "two cpus, attempt %d: %.3f spins per round trip\n", attempt, spins);
    most = std::max(most, spins);
  }
  EXPECT_GE(most, 0.5);  // ~1 here
}

}  // namespace
}  // namespace floe::test
