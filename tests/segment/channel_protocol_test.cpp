// The channel protocol on a segment in private memory: each operation alone, the race between a
// client withdrawing a request and a server taking it, and indices a peer wrote out of range.

#include "segment/channel_protocol.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "segment/in_memory_segment.hpp"
#include "segment/port_view.hpp"

namespace floe::detail {
namespace {

constexpr auto kActive = static_cast<std::uint32_t>(SlotState::active);

/// A zeroed segment of two clients and two servers, with client 0 and server 0 active.
class ChannelProtocol : public ::testing::Test {
 protected:
  ChannelProtocol() {
    for (std::uint32_t c = 0; c < limits().max_clients; ++c) {
      for (std::uint32_t k = 0; k < limits().max_active_requests_per_client; ++k) {
        segment_.client_channel(c, k)->chunk = kNoChunk;
      }
    }
    segment_.client(0)->state = kActive;
    segment_.server(0)->state = kActive;
  }

  /// Two clients, two servers, two active requests and three request chunks per client.
  static StoredLimits limits() {
    StoredLimits l = test::small_limits();
    l.max_clients = 2;
    l.max_active_requests_per_client = 2;
    l.max_loaned_requests = 1;
    return l;
  }

  /// What ClientCore::try_send does for one server: binds `chunk` to slot k and delivers the
  /// request to server 0.
  void send(std::uint32_t k, std::uint64_t request_id, std::uint32_t chunk) {
    ClientChannel* channel = segment_.client_channel(0, k);
    *segment_.request_chunk_state(0, chunk) = static_cast<std::uint32_t>(RequestChunkState::bound);
    channel->request_id = request_id;
    channel->chunk = chunk;
    channel->pending_alive = kPendingAlive;
    open_request(segment_.response_channel(0, 0, k), request_id);
    ASSERT_EQ(segment_.request_queue(0, 0).push(pack_entry(request_id, k)), QueueStatus::ok);
  }

  std::uint64_t open_marker(std::uint32_t k) const {
    return segment_.response_channel(0, 0, k).head()->open_request_id;
  }

  test::InMemorySegment memory_{limits()};
  const SegmentView& segment_ = memory_.view();
};

TEST_F(ChannelProtocol, ARequestIsTakenOrWithdrawnNeverBoth) {
  const ResponseChannel channel = segment_.response_channel(0, 0, 1);
  open_request(channel, 7);
  EXPECT_TRUE(is_request_open(channel, 7));
  EXPECT_TRUE(take_request(channel, 7));
  EXPECT_FALSE(withdraw_request(channel, 7)) << "a taken request was withdrawn";
  EXPECT_TRUE(is_request_open(channel, 7));
  close_request(channel, 7);
  EXPECT_FALSE(is_request_open(channel, 7));

  open_request(channel, 8);
  EXPECT_TRUE(withdraw_request(channel, 8));
  EXPECT_FALSE(take_request(channel, 8)) << "a withdrawn request was taken";
  EXPECT_EQ(channel.head()->open_request_id, 0u);
  EXPECT_FALSE(withdraw_request(channel, 8));
}

TEST_F(ChannelProtocol, WithdrawRacingTakeHasExactlyOneWinner) {
  const ResponseChannel channel = segment_.response_channel(0, 0, 0);
  constexpr std::uint64_t kRounds = 10000;
  std::atomic<std::uint64_t> round{0};
  std::atomic<int> arrived{0};
  std::uint64_t taken = 0, withdrawn = 0;
  // Both threads meet at each round's start, then race on the same marker. The client opens
  // the next round only once its withdraw returned, which it cannot lose to a take of the next.
  const auto meet = [&](std::uint64_t r) {
    arrived.fetch_add(1);
    while (arrived.load() < static_cast<int>(2 * r)) {
    }
  };
  std::thread server([&] {
    for (std::uint64_t r = 1; r <= kRounds; ++r) {
      while (round.load() != r) {
      }
      meet(r);
      taken += take_request(channel, r);
    }
  });
  for (std::uint64_t r = 1; r <= kRounds; ++r) {
    open_request(channel, r);
    round.store(r);
    meet(r);
    withdrawn += withdraw_request(channel, r);
  }
  server.join();
  EXPECT_EQ(taken + withdrawn, kRounds);
  // Each round ends as its winner left it: closed by the withdraw, or taken.
  EXPECT_TRUE(channel.head()->open_request_id == 0 ||
              channel.head()->open_request_id == (kRounds | kReceivedBit));
}

TEST_F(ChannelProtocol, AServerTakesOnlyWhatItsClientStillHolds) {
  const ServerPortView server(segment_, 0);
  const auto next_entry = [&] { return segment_.request_queue(0, 0).pop().value; };
  send(0, 5, 0);
  const auto taken = take_queued_request(server, 0, next_entry());
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->channel, 0u);
  EXPECT_EQ(taken->request_id, 5u);
  EXPECT_EQ(taken->chunk, 0u);
  EXPECT_EQ(open_marker(0), 5u | kReceivedBit);

  // The client's slot moved on to another request: the stale one is taken and closed again.
  send(1, 6, 1);
  segment_.client_channel(0, 1)->request_id = 9;
  EXPECT_FALSE(take_queued_request(server, 0, next_entry()));
  EXPECT_EQ(open_marker(1), 0u);

  // Fire-and-forget off: a request whose PendingResponse is gone is not taken.
  send(1, 10, 1);
  segment_.client_channel(0, 1)->pending_alive = 0;
  EXPECT_FALSE(take_queued_request(server, 0, next_entry()));
  EXPECT_EQ(open_marker(1), 0u);
}

TEST_F(ChannelProtocol, IndicesAPeerWroteOutOfRangeAreRefused) {
  const ServerPortView server(segment_, 0);
  // A request slot beyond max_active_requests_per_client, also one that only its low 16 bits
  // would put in range.
  EXPECT_FALSE(take_queued_request(server, 0, pack_entry(5, 2)));
  EXPECT_FALSE(take_queued_request(server, 0, pack_entry(5, 0xffff)));
  withdraw_queued_request(segment_, 0, 0, pack_entry(5, 0xffff));
  // A bound chunk beyond the client's chunks.
  send(0, 5, 0);
  segment_.client_channel(0, 0)->chunk = 1000;
  EXPECT_EQ(segment_.bound_chunk(*segment_.client_channel(0, 0)), kNoChunk);
  EXPECT_FALSE(take_queued_request(server, 0, pack_entry(5, 0)));
  EXPECT_EQ(open_marker(0), 0u);
  // Response chunks beyond the channel's pool, also ones that only their low 16 bits would
  // put in range.
  const ResponseChannel channel = segment_.response_channel(0, 0, 0);
  EXPECT_EQ(channel.response_chunk_of(pack_entry(1, channel.chunk_count())), kNoChunk);
  release_response_chunk(channel, channel.chunk_count(), ResponseChunkState::queued);
  release_response_chunk(channel, 0x10000, ResponseChunkState::queued);
  release_request_chunk(segment_, 0, segment_.layout().request_chunks_per_client(),
                        RequestChunkState::bound);
}

TEST_F(ChannelProtocol, AChannelIsReleasedOnlyOnceNobodyHoldsIt) {
  send(0, 5, 2);
  EXPECT_FALSE(release_unheld_channel(segment_, 0, 0, true)) << "its PendingResponse is alive";
  segment_.client_channel(0, 0)->pending_alive = 0;
  // Taken by the server: held until the server closes it, withdrawing or not.
  ASSERT_TRUE(take_request(segment_.response_channel(0, 0, 0), 5));
  EXPECT_FALSE(release_unheld_channel(segment_, 0, 0, true));
  collect_client_channels(segment_, 0);
  EXPECT_EQ(segment_.client_channel(0, 0)->chunk, 2u);
  close_request(segment_.response_channel(0, 0, 0), 5);
  EXPECT_TRUE(release_unheld_channel(segment_, 0, 0, true));
  EXPECT_EQ(segment_.client_channel(0, 0)->chunk, kNoChunk);
  EXPECT_EQ(*segment_.request_chunk_state(0, 2), 0u);

  // Not taken yet: without withdrawing it stays held, withdrawn it is free.
  send(1, 6, 1);
  segment_.client_channel(0, 1)->pending_alive = 0;
  EXPECT_FALSE(release_unheld_channel(segment_, 0, 1, false));
  EXPECT_TRUE(release_unheld_channel(segment_, 0, 1, true));
  EXPECT_EQ(open_marker(1), 0u);
  EXPECT_EQ(*segment_.request_chunk_state(0, 1), 0u);
}

TEST_F(ChannelProtocol, ResettingAClientWithdrawsItsUnreadRequests) {
  send(0, 5, 0);
  send(1, 6, 1);
  ASSERT_TRUE(take_request(segment_.response_channel(0, 0, 1), 6));
  *segment_.request_chunk_state(0, 2) = static_cast<std::uint32_t>(RequestChunkState::loaned);
  reset_client_resources(segment_, 0);
  EXPECT_EQ(open_marker(0), 0u) << "the unread request was not withdrawn";
  EXPECT_EQ(open_marker(1), 6u | kReceivedBit) << "a taken request is the server's to close";
  EXPECT_TRUE(segment_.request_queue(0, 0).empty());
  EXPECT_EQ(*segment_.request_chunk_state(0, 2), 0u) << "the loan was not freed";
  EXPECT_EQ(segment_.client_channel(0, 0)->pending_alive, 0u);
}

TEST_F(ChannelProtocol, TheDisconnectHintBelongsToOneLiveRequestAndGarbageIsNoHint) {
  send(0, 5, 0);
  ClientChannel& channel = *segment_.client_channel(0, 0);
  EXPECT_FALSE(has_disconnect_hint(channel, 5));
  set_disconnect_hint(channel);
  EXPECT_TRUE(has_disconnect_hint(channel, 5));
  EXPECT_FALSE(has_disconnect_hint(channel, 4)) << "an older request of the slot has no hint";
  // Still alive for everything that asks whether anybody listens.
  ASSERT_EQ(segment_.request_queue(0, 0).pop().status, QueueStatus::ok);
  EXPECT_TRUE(take_request(segment_.response_channel(0, 0, 0), 5));
  EXPECT_FALSE(release_unheld_channel(segment_, 0, 0, true));

  // A PendingResponse gone takes the hint with it, and a gone one cannot be hinted.
  channel.pending_alive = 0;
  set_disconnect_hint(channel);
  EXPECT_EQ(channel.pending_alive, 0u);
  EXPECT_FALSE(has_disconnect_hint(channel, 5));

  // What a hostile peer writes is no hint, except the one exact value (which it could write
  // through the API as well), and never makes the slot look free.
  for (const std::uint32_t garbage : {2u, 7u, 0xffffffffu, 0x80000003u}) {
    channel.pending_alive = garbage;
    EXPECT_FALSE(has_disconnect_hint(channel, 5)) << garbage;
    set_disconnect_hint(channel);
    EXPECT_EQ(channel.pending_alive, garbage) << "only a plain live channel takes the hint";
    EXPECT_FALSE(release_unheld_channel(segment_, 0, 0, false));
  }
}

}  // namespace
}  // namespace floe::detail
