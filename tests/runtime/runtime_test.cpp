// The event loop on its own: tasks, timers, stop and cancellation, the backend in use.

#include "floe/runtime.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

Task<int> value_after(std::chrono::milliseconds delay, int value) {
  co_await sleep_for(delay);
  co_return value;
}

Task<void> throws_after_sleep() {
  co_await sleep_for(1ms);
  throw std::runtime_error("boom");
}

TEST(Runtime, BlockOnReturnsTheValueOfItsTask) {
  Runtime runtime;
  EXPECT_EQ(runtime.block_on(value_after(1ms, 42)), 42);
}

TEST(Runtime, BlockOnRethrowsWhatItsTaskThrows) {
  Runtime runtime;
  EXPECT_THROW(runtime.block_on(throws_after_sleep()), std::runtime_error);
}

TEST(Runtime, UsesTheBackendTheEnvironmentAsksFor) {
  Runtime runtime;
  const char* disabled = std::getenv("FLOE_DISABLE_IO_URING");
  const bool epoll_wanted = disabled != nullptr && std::strcmp(disabled, "1") == 0;
  EXPECT_EQ(runtime.uses_io_uring(), !epoll_wanted);
  Runtime epoll(RuntimeOptions{.spin_budget = {}, .backend = RuntimeBackend::epoll});
  EXPECT_FALSE(epoll.uses_io_uring());
  EXPECT_EQ(epoll.block_on(value_after(1ms, 7)), 7);
}

TEST(Runtime, SleepForSleepsInTheKernelInsteadOfSpinning) {
  Runtime runtime(RuntimeOptions{.spin_budget = {}});
  const auto start = Clock::now();
  runtime.block_on(value_after(50ms, 0));
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 50ms);
  EXPECT_LT(elapsed, 2s);
  // One sleep for the timer (a few more if woken early); a spinning loop would poll thousands
  // of times.
  EXPECT_LE(runtime.stats().sleeps, 3u);
  EXPECT_LE(runtime.stats().polls, 10u);
}

TEST(Runtime, RunReturnsOnceEverySpawnedTaskFinished) {
  Runtime runtime;
  std::vector<int> finished;
  auto task = [&](std::chrono::milliseconds delay, int id) -> Task<void> {
    co_await sleep_for(delay);
    finished.push_back(id);
  };
  runtime.spawn(task(30ms, 3));
  runtime.spawn(task(10ms, 1));
  runtime.spawn(task(20ms, 2));
  const auto start = Clock::now();
  runtime.run();
  EXPECT_GE(Clock::now() - start, 30ms);
  // Every task, in any order: the order is that of the deadlines only while the thread wakes
  // in time. On a busy machine it can oversleep past several deadlines, and operations that
  // completed in one pass resume in the runtime's list order.
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, (std::vector<int>{1, 2, 3}));
}

TEST(Runtime, StopFromAnotherThreadCancelsWhatWaits) {
  Runtime runtime;
  Errc seen{};
  runtime.spawn([&]() -> Task<void> { seen = co_await error_of_await(sleep_for(60s)); });
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    runtime.stop();
  });
  const auto start = Clock::now();
  runtime.run();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(seen, Errc::cancelled);
}

TEST(Runtime, StopTokenCancelsOneOperationAndNotTheOthers) {
  Runtime runtime;
  std::stop_source source;
  Errc first{};
  bool second_done = false;
  auto cancelled = [&]() -> Task<void> {
    first = co_await error_of_await(sleep_for(60s, source.get_token()));
  };
  auto other = [&]() -> Task<void> {
    co_await sleep_for(30ms);
    second_done = true;
  };
  auto canceller = [&]() -> Task<void> {
    co_await sleep_for(5ms);
    source.request_stop();
  };
  runtime.spawn(cancelled());
  runtime.spawn(other());
  runtime.spawn(canceller());
  runtime.run();
  EXPECT_EQ(first, Errc::cancelled);
  EXPECT_TRUE(second_done);
}

TEST(Runtime, AlreadyStoppedTokenThrowsAtOnce) {
  Runtime runtime;
  std::stop_source source;
  source.request_stop();
  auto task = [&]() -> Task<void> { co_await sleep_for(60s, source.get_token()); };
  EXPECT_EQ(error_of([&] { runtime.block_on(task()); }), Errc::cancelled);
}

TEST(Runtime, AnExceptionEscapingASpawnedTaskStopsTheRuntime) {
  Runtime runtime;
  bool other_cancelled = false;
  auto waits_long = [&]() -> Task<void> {
    try {
      co_await sleep_for(60s);
    } catch (const Error&) {
      other_cancelled = true;
    }
  };
  runtime.spawn(waits_long());
  runtime.spawn(throws_after_sleep());
  EXPECT_THROW(runtime.run(), std::runtime_error);
  EXPECT_TRUE(other_cancelled);
}

TEST(Runtime, WaitingOutsideARuntimeIsAnError) {
  Task<int> task = value_after(1ms, 1);
  task.handle().resume();  // runs until the sleep, which finds no runtime and throws
  ASSERT_TRUE(task.handle().done());
  EXPECT_EQ(error_of([&] { (void)std::move(task.handle().promise()).result(); }), Errc::no_runtime);
}

TEST(Runtime, DestroyingARuntimeDestroysUnfinishedTasks) {
  auto guard = std::make_shared<int>(0);
  {
    Runtime runtime;
    auto holds = [](std::shared_ptr<int> held) -> Task<void> {
      co_await sleep_for(60s);
      (void)held;
    };
    runtime.spawn(holds(guard));
    runtime.block_on(value_after(1ms, 0));
    EXPECT_EQ(guard.use_count(), 2);  // still held by the suspended task
  }
  EXPECT_EQ(guard.use_count(), 1);
}

TEST(Runtime, RunsAgainAfterStop) {
  Runtime runtime;
  runtime.stop();
  runtime.run();  // nothing spawned: returns at once
  EXPECT_EQ(runtime.block_on(value_after(1ms, 5)), 5);
}

}  // namespace
}  // namespace floe::test
