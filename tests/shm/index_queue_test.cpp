#include "shm/index_queue.hpp"

#include <gtest/gtest.h>

#include <sys/mman.h>

#include <atomic>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "support/process.hpp"

namespace floe::detail {
namespace {

struct QueueStorage {
  explicit QueueStorage(std::uint32_t capacity) : entries(capacity) {}
  IndexQueue queue() {
    return IndexQueue(&control, entries.data(), static_cast<std::uint32_t>(entries.size()));
  }
  QueueControl control{};
  std::vector<std::uint64_t> entries;
};

TEST(IndexQueue, DeliversInOrderAndReportsFullAndEmpty) {
  QueueStorage storage(3);
  IndexQueue q = storage.queue();
  EXPECT_EQ(q.pop().status, QueueStatus::empty);
  EXPECT_EQ(q.push(1), QueueStatus::ok);
  EXPECT_EQ(q.push(2), QueueStatus::ok);
  EXPECT_EQ(q.push(3), QueueStatus::ok);
  EXPECT_EQ(q.push(4), QueueStatus::full);
  for (std::uint64_t expected : {1, 2, 3}) {
    const QueueResult r = q.pop();
    ASSERT_EQ(r.status, QueueStatus::ok);
    EXPECT_EQ(r.value, expected);
  }
  EXPECT_TRUE(q.empty());
}

TEST(IndexQueue, OverwritingEvictsTheOldestEntry) {
  QueueStorage storage(2);
  IndexQueue q = storage.queue();
  EXPECT_FALSE(q.push_overwriting(1).evicted);
  EXPECT_FALSE(q.push_overwriting(2).evicted);
  const QueueResult r = q.push_overwriting(3);
  EXPECT_EQ(r.status, QueueStatus::ok);
  EXPECT_TRUE(r.evicted);
  EXPECT_EQ(r.value, 1u);
  EXPECT_EQ(q.pop().value, 2u);
  EXPECT_EQ(q.pop().value, 3u);
}

TEST(IndexQueue, ScribbledCursorsReadAsCorruptedNeverOutOfBounds) {
  QueueStorage storage(4);
  IndexQueue q = storage.queue();
  storage.control.head.value = 5;
  storage.control.tail.value = 1'000'000;  // claims far more entries than the queue holds
  EXPECT_EQ(q.pop().status, QueueStatus::corrupted);
  EXPECT_EQ(q.push(1), QueueStatus::corrupted);
  storage.control.head.value = 10;  // head past tail: unsigned difference is huge
  storage.control.tail.value = 3;
  EXPECT_EQ(q.pop().status, QueueStatus::corrupted);
  int visited = 0;
  q.drain([&](std::uint64_t) { ++visited; });
  EXPECT_EQ(visited, 0);
}

// One producer overwriting when full, two consumers racing for entries: every entry is seen
// exactly once, by a consumer or as evicted by the producer.
TEST(IndexQueue, ProducerAndRacingConsumersSeeEveryEntryOnce) {
  constexpr std::uint64_t kEntries = 400'000;
  QueueStorage storage(8);
  std::vector<std::atomic<std::uint8_t>> seen(kEntries);
  std::atomic<bool> done{false};
  auto consume = [&] {
    IndexQueue q = storage.queue();
    for (;;) {
      const QueueResult r = q.pop();
      if (r.status == QueueStatus::ok) {
        seen[r.value].fetch_add(1);
      } else if (r.status == QueueStatus::corrupted) {
        ADD_FAILURE() << "corrupted";
        return;
      } else if (done.load()) {
        return;
      }
    }
  };
  std::thread a(consume), b(consume);
  IndexQueue q = storage.queue();
  for (std::uint64_t i = 0; i < kEntries; ++i) {
    const QueueResult r = q.push_overwriting(i);
    ASSERT_EQ(r.status, QueueStatus::ok);
    if (r.evicted) seen[r.value].fetch_add(1);
  }
  done.store(true);
  a.join();
  b.join();
  q.drain([&](std::uint64_t v) { seen[v].fetch_add(1); });
  for (std::uint64_t i = 0; i < kEntries; ++i)
    ASSERT_EQ(seen[i].load(), 1) << "entry " << i;
}

TEST(IndexQueue, ConsumersInOtherProcessesAndThreadsSeeEveryEntryOnce) {
  // Queue, entries and tallies in a MAP_SHARED mapping: two forked processes and a thread race
  // the producer's evictions for every entry.
  constexpr std::uint64_t kEntries = 300'000;
  constexpr std::uint32_t kCapacity = 16;
  struct Shared {
    QueueControl control;
    std::uint64_t entries[kCapacity];
    std::atomic<std::uint32_t> done;
    std::atomic<std::uint32_t> corrupted;
    std::atomic<std::uint8_t> seen[kEntries];
  };
  void* memory =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  auto* shared = new (memory) Shared{};
  auto queue = [&] { return IndexQueue(&shared->control, shared->entries, kCapacity); };
  auto consume = [&] {
    IndexQueue q = queue();
    for (;;) {
      const QueueResult r = q.pop();
      if (r.status == QueueStatus::ok) {
        shared->seen[r.value].fetch_add(1);
      } else if (r.status == QueueStatus::corrupted) {
        shared->corrupted.fetch_add(1);
        return;
      } else if (shared->done.load() != 0) {
        return;
      }
    }
  };
  std::vector<std::unique_ptr<test::ChildProcess>> children;
  for (int i = 0; i < 2; ++i) {
    children.push_back(std::make_unique<test::ChildProcess>([&] {
      consume();
      return 0;
    }));
  }
  std::thread local(consume);
  IndexQueue q = queue();
  for (std::uint64_t i = 0; i < kEntries; ++i) {
    const QueueResult r = q.push_overwriting(i);
    ASSERT_EQ(r.status, QueueStatus::ok);
    if (r.evicted) shared->seen[r.value].fetch_add(1);
  }
  shared->done.store(1);
  local.join();
  for (auto& child : children)
    EXPECT_EQ(child->wait(), 0);
  q.drain([&](std::uint64_t v) { shared->seen[v].fetch_add(1); });
  EXPECT_EQ(shared->corrupted.load(), 0u);
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < kEntries; ++i)
    wrong += shared->seen[i].load() != 1;
  EXPECT_EQ(wrong, 0u) << "entries lost or seen twice";
  ::munmap(memory, sizeof(Shared));
}

}  // namespace
}  // namespace floe::detail
