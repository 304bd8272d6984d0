#include "floe/task.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace floe {
namespace {

/// Starts at once and runs a task to its end; enough to test Task without a Runtime, since
/// every task here completes without waiting on anything.
struct Eager {
  struct promise_type {
    Eager get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const { throw; }
  };
};

template <typename T>
Eager store_result(Task<T> task, std::optional<T>& out) {
  out = co_await std::move(task);
}

Task<int> forty_two() {
  co_return 42;
}
Task<int> add_one(Task<int> inner) {
  co_return co_await std::move(inner) + 1;
}
Task<std::string> text() {
  co_return std::string(100, 'x');
}
Task<int> fails() {
  throw std::runtime_error("boom");
  co_return 0;
}
Task<int> catches() {
  try {
    co_await fails();
  } catch (const std::runtime_error& e) {
    co_return std::string(e.what()) == "boom" ? 7 : -1;
  }
  co_return -2;
}

TEST(Task, IsLazyAndYieldsItsValueWhenAwaited) {
  bool started = false;
  // Parameters live in the coroutine frame; a lambda's captures would not outlive the lambda.
  auto task = [](bool& flag) -> Task<int> {
    flag = true;
    co_return 5;
  }(started);
  EXPECT_FALSE(started);
  EXPECT_FALSE(task.is_ready());
  std::optional<int> result;
  store_result(std::move(task), result);
  EXPECT_TRUE(started);
  EXPECT_EQ(result, 5);
}

TEST(Task, AwaitsOtherTasksAndMovesValues) {
  std::optional<int> number;
  store_result(add_one(add_one(forty_two())), number);
  EXPECT_EQ(number, 44);
  std::optional<std::string> string;
  store_result(text(), string);
  EXPECT_EQ(string, std::string(100, 'x'));
}

TEST(Task, ExceptionsPropagateToTheAwaiter) {
  std::optional<int> result;
  store_result(catches(), result);
  EXPECT_EQ(result, 7);
  std::optional<int> unhandled;
  EXPECT_THROW(store_result(add_one(fails()), unhandled), std::runtime_error);
}

TEST(Task, DestroyingAnUnstartedTaskDestroysItsFrame) {
  auto alive = std::make_shared<int>(1);
  {
    auto task = []([[maybe_unused]] std::shared_ptr<int> held) -> Task<void> { co_return; }(alive);
    EXPECT_EQ(alive.use_count(), 2);
  }
  EXPECT_EQ(alive.use_count(), 1);
}

/// Suspends until the test resumes it by hand, as an event loop would.
struct ManualResume {
  std::coroutine_handle<> waiting;
  auto operator co_await() {
    struct Awaiter {
      ManualResume& self;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) noexcept { self.waiting = h; }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this};
  }
};

Task<int> after(ManualResume& event, int value) {
  co_await event;
  co_return value;
}

TEST(Task, ATaskThatSuspendsResumesItsAwaiterWhenItFinishes) {
  ManualResume event;
  std::optional<int> result;
  store_result(add_one(after(event, 9)), result);
  EXPECT_FALSE(result) << "suspended inside the inner task";
  ASSERT_TRUE(event.waiting);
  event.waiting.resume();  // the inner task finishes and hands control to add_one, then on up
  EXPECT_EQ(result, 10);
}

Task<int> one() {
  co_return 1;
}
Task<long> sum_of_a_million() {
  long sum = 0;
  for (int i = 0; i < 1'000'000; ++i)
    sum += co_await one();
  co_return sum;
}

// Without symmetric transfer every finished task would resume its awaiter from inside its own
// frame, and a million of them would need far more than the 256 KiB stack given here.
TEST(Task, AMillionSynchronousAwaitsDoNotGrowTheStack) {
  std::optional<long> result;
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 256 * 1024);
  pthread_t thread;
  struct Job {
    std::optional<long>* result;
  } job{&result};
  ASSERT_EQ(pthread_create(
                &thread, &attributes,
                [](void* arg) -> void* {
                  store_result(sum_of_a_million(), *static_cast<Job*>(arg)->result);
                  return nullptr;
                },
                &job),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attributes);
  EXPECT_EQ(result, 1'000'000);
}

}  // namespace
}  // namespace floe
