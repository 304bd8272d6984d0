// The runtime's small parts: which loop is current on a thread, the doorbell watch-set both
// backends keep, and the eventfd they wake with.

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "floe/runtime.hpp"
#include "platform/event_fd.hpp"
#include "runtime/doorbell_watches.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

using detail::DoorbellWatches;

TEST(CurrentLoop, IsTheRuntimeRunningOnThisThreadAndNests) {
  EXPECT_EQ(Runtime::current(), nullptr);
  Runtime outer;
  Runtime inner;
  std::vector<Runtime*> seen;
  outer.block_on([&]() -> Task<void> {
    seen.push_back(Runtime::current());
    inner.block_on([&]() -> Task<void> {
      seen.push_back(Runtime::current());
      co_await sleep_for(1ms);  // waits in `inner`
      seen.push_back(Runtime::current());
    });
    seen.push_back(Runtime::current());  // `outer` is back
    co_await sleep_for(1ms);
  });
  EXPECT_EQ(seen, (std::vector<Runtime*>{&outer, &inner, &inner, &outer}));
  EXPECT_EQ(Runtime::current(), nullptr);
}

TEST(DoorbellWatches, AWordNamedAgainWithTheSameValueStaysArmed) {
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  DoorbellWatches watches;
  watches.begin_pass();
  watches.watch(&a, 1);
  watches.watch(&b, 2);
  for (DoorbellWatches::Watch& w : watches.entries())
    w.armed = true;
  const std::uint64_t event_a = watches.event_of(watches.entries()[0]);
  const std::uint64_t event_b = watches.event_of(watches.entries()[1]);

  watches.begin_pass();
  watches.watch(&a, 1);  // same value: stays armed
  watches.watch(&b, 3);  // moved on: a fresh wait, and the old one's event is stale
  std::vector<std::uint32_t*> disarmed;
  EXPECT_FALSE(
      watches.drop_unwanted([&](const DoorbellWatches::Watch& w) { disarmed.push_back(w.word); }));
  EXPECT_TRUE(disarmed.empty());
  EXPECT_TRUE(watches.entries()[0].armed);
  EXPECT_FALSE(watches.entries()[1].armed);
  EXPECT_EQ(watches.from_event(event_a), &watches.entries()[0]);
  EXPECT_EQ(watches.from_event(event_b), nullptr);
}

TEST(DoorbellWatches, AWordNotNamedAgainIsDisarmedAndItsEntryReused) {
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  DoorbellWatches watches;
  watches.begin_pass();
  watches.watch(&a, 1);
  watches.entries()[0].armed = true;
  const std::uint64_t event_a = watches.event_of(watches.entries()[0]);

  watches.begin_pass();
  std::vector<std::uint32_t*> disarmed;
  EXPECT_TRUE(
      watches.drop_unwanted([&](const DoorbellWatches::Watch& w) { disarmed.push_back(w.word); }));
  EXPECT_EQ(disarmed, (std::vector<std::uint32_t*>{&a}));
  EXPECT_EQ(watches.from_event(event_a), nullptr);

  watches.watch(&b, 7);
  ASSERT_EQ(watches.entries().size(), 1u);
  EXPECT_EQ(watches.entries()[0].word, &b);
  EXPECT_EQ(watches.from_event(event_a), nullptr);  // the reused entry is not the old one
}

TEST(EventFd, SignalsOnceUntilDrainedAndLeavesErrnoAlone) {
  detail::EventFd event;
  EXPECT_FALSE(event.drain());
  errno = EDOM;
  event.signal();
  event.signal();
  EXPECT_EQ(errno, EDOM);  // a signal handler calls it
  EXPECT_TRUE(event.drain());
  EXPECT_FALSE(event.drain());
}

}  // namespace
}  // namespace floe::test
