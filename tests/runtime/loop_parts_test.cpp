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

/// Two doorbell words, both watched and armed as a backend leaves them after a sleep.
struct ArmedWatches {
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  DoorbellWatches watches;
  std::uint64_t event_a = 0;
  std::uint64_t event_b = 0;

  ArmedWatches() {
    watches.begin_pass();
    watches.watch(&a, 1);
    watches.watch(&b, 2);
    for (DoorbellWatches::Watch& w : watches.entries())
      w.armed = true;
    event_a = watches.event_of(watches.entries()[0]);
    event_b = watches.event_of(watches.entries()[1]);
  }
  /// The words drop_unwanted() disarms.
  std::vector<std::uint32_t*> drop_unwanted() {
    std::vector<std::uint32_t*> disarmed;
    watches.drop_unwanted([&](const DoorbellWatches::Watch& w) { disarmed.push_back(w.word); });
    return disarmed;
  }
};

TEST(DoorbellWatches, AWordNamedAgainWithTheSameValueStaysArmed) {
  ArmedWatches t;
  t.watches.begin_pass();
  t.watches.watch(&t.a, 1);  // same value: stays armed
  t.watches.watch(&t.b, 3);  // moved on: a fresh wait, and the old one's event is stale
  EXPECT_TRUE(t.drop_unwanted().empty());
  EXPECT_TRUE(t.watches.entries()[0].armed);
  EXPECT_FALSE(t.watches.entries()[1].armed);
  EXPECT_EQ(t.watches.from_event(t.event_a), &t.watches.entries()[0]);
  EXPECT_EQ(t.watches.from_event(t.event_b), nullptr);
}

TEST(DoorbellWatches, AWordNotNamedAgainIsDisarmedAndItsEntryReused) {
  ArmedWatches t;
  t.watches.begin_pass();
  t.watches.watch(&t.b, 2);
  EXPECT_EQ(t.drop_unwanted(), (std::vector<std::uint32_t*>{&t.a}));
  EXPECT_EQ(t.watches.from_event(t.event_a), nullptr);

  std::uint32_t c = 0;
  t.watches.watch(&c, 7);
  ASSERT_EQ(t.watches.entries().size(), 2u);
  EXPECT_EQ(t.watches.entries()[0].word, &c);
  EXPECT_EQ(t.watches.from_event(t.event_a), nullptr);  // the reused entry is not the old one
  EXPECT_EQ(t.watches.from_event(t.event_b), &t.watches.entries()[1]);
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
