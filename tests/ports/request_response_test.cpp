// The request-response semantics, as iceoryx2 defines them, across real processes.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

class RequestResponse : public U64ServiceTest {
 protected:
  /// A server sends 1..`count` into the unread buffer of a client in another process, lets go,
  /// and only then does the client read: its stream must be `expected`, with `overwritten`
  /// responses counted as lost. What each send returned, in order.
  std::vector<bool> send_into_an_unread_stream(U64Server& server, std::uint64_t count,
                                               const std::vector<std::uint64_t>& expected,
                                               std::uint64_t overwritten) {
    Signal sent, answered;
    ChildProcess client_process([&] {
      auto client = open_as("child").client_builder().create();
      auto pending = client.send_copy(1);
      sent.notify();
      FLOE_CHILD_CHECK(answered.wait() == 1);
      FLOE_CHILD_CHECK(receive_stream(pending) == expected);
      FLOE_CHILD_CHECK(pending.number_of_overwritten_responses() == overwritten);
      return 0;
    });
    std::vector<bool> accepted;
    EXPECT_EQ(sent.wait(), 1);
    if (auto request = receive_within(server)) {
      for (std::uint64_t i = 1; i <= count; ++i)
        accepted.push_back(request->send_copy(i));
    }
    answered.notify();
    EXPECT_EQ(client_process.wait(), 0);
    return accepted;
  }
};

/// Sends `payload`, signals `sent` and holds the pending response until `release`; false if
/// `release` did not come in time.
bool send_and_hold_until(U64Client& client, std::uint64_t payload, const Signal& sent,
                         const Signal& release) {
  auto pending = client.send_copy(payload);
  sent.notify();
  return release.wait() == 1;
}

TEST_F(RequestResponse, RequestReachesEveryConnectedServerAndEachAnswers) {
  auto service = builder().max_servers(2).create();
  Signal done;
  auto serve = [&](std::uint64_t tag) {
    return server_answering([&, tag](auto& request) {
      FLOE_CHILD_CHECK(request->send_copy(request->payload() * 10 + tag));
      return done.wait() == 1 ? 0 : 2;
    });
  };
  ChildProcess first = serve(1), second = serve(2);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(7);
  EXPECT_EQ(pending.number_of_server_connections(), 2u);
  std::set<std::uint64_t> answers;
  std::set<ServerId> servers;
  ASSERT_TRUE(eventually([&] {
    if (auto r = pending.try_receive()) {
      answers.insert(r->payload());
      servers.insert(r->header().server_id);
      EXPECT_EQ(r->header().request_id, pending.header().request_id);
    }
    return answers.size() == 2;
  }));
  EXPECT_EQ(answers, (std::set<std::uint64_t>{71, 72}));
  EXPECT_EQ(servers.size(), 2u);
  done.notify();
  done.notify();
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(second.wait(), 0);
}

TEST_F(RequestResponse, ResponsesReachOnlyTheClientAndRequestThatAsked) {
  auto service = builder().max_clients(2).create();
  auto server = service.server_builder().create();
  auto ask = [&](std::uint64_t base) {
    return [&, base] {
      auto s = open_as("child");
      auto client = s.client_builder().create();
      for (std::uint64_t i = 0; i < 200; ++i) {
        // Two requests open at once on one client: each stream gets only its own answers.
        auto a = client.send_copy(base + 2 * i);
        auto b = client.send_copy(base + 2 * i + 1);
        auto ra = receive_within(a);
        auto rb = receive_within(b);
        FLOE_CHILD_CHECK(ra && rb);
        FLOE_CHILD_CHECK(ra->payload() == base + 2 * i + 1000);
        FLOE_CHILD_CHECK(rb->payload() == base + 2 * i + 1 + 1000);
        FLOE_CHILD_CHECK(ra->header().request_id == a.header().request_id);
        FLOE_CHILD_CHECK(a.header().client_id == client.id());
      }
      return 0;
    };
  };
  ChildProcess one(ask(0)), two(ask(1'000'000));
  std::size_t served = 0;
  const bool all = eventually(
      [&] {
        while (auto request = server.try_receive()) {
          EXPECT_EQ(request->origin(), request->header().client_id);
          request->send_copy(request->payload() + 1000);
          ++served;
        }
        return served == 800;
      },
      30s);
  EXPECT_TRUE(all) << served;
  EXPECT_EQ(one.wait(), 0);
  EXPECT_EQ(two.wait(), 0);
}

TEST_F(RequestResponse, DroppingTheActiveRequestEndsTheStreamAfterWhatWasSent) {
  auto service = builder().create();
  ChildProcess server_process = server_answering([](auto& request) {
    for (std::uint64_t i = 1; i <= 3; ++i) {
      auto response = request->loan();
      *response = i;
      FLOE_CHILD_CHECK(std::move(response).send());
    }
    return 0;  // the ActiveRequest, then the server, go out of scope
  });
  auto client = service.client_builder().create();
  auto pending = client.send_copy(5);
  EXPECT_EQ(receive_stream(pending), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(pending.number_of_server_connections(), 0u);
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(RequestResponse, DroppingThePendingResponseDisconnectsTheServer) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Signal sent, go, dropped;
  ChildProcess client_process([&] {
    auto client = open_as("child").client_builder().create();
    FLOE_CHILD_CHECK(send_and_hold_until(client, 9, sent, go));
    dropped.notify();
    return go.wait() == 1 ? 0 : 2;
  });
  ASSERT_EQ(sent.wait(), 1);
  auto request = receive_within(server);
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->is_connected());
  EXPECT_TRUE(request->send_copy(1));
  go.notify();
  ASSERT_EQ(dropped.wait(), 1);
  EXPECT_FALSE(request->is_connected());
  EXPECT_FALSE(request->send_copy(2)) << "discarded, not leaked";
  request.reset();
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u);
  go.notify();
  EXPECT_EQ(client_process.wait(), 0);
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
}

TEST_F(RequestResponse, AnswersToADroppedRequestNeverReachANewerOne) {
  auto service = builder().max_active_requests_per_client(2).create();
  auto server = service.server_builder().create();
  Signal first_sent, answered_late, done;
  ChildProcess client_process([&] {
    auto client = open_as("child").client_builder().create();
    FLOE_CHILD_CHECK(send_and_hold_until(client, 1, first_sent, answered_late));
    for (int round = 0; round < 50; ++round) {
      auto fresh = client.send_copy(100 + round);
      auto r = receive_within(fresh);
      FLOE_CHILD_CHECK(r && r->payload() == 100 + static_cast<std::uint64_t>(round) + 1000);
      // The answer can arrive before the server dropped its ActiveRequest, and a channel is
      // reused only once no server holds it (max_active_requests counts requests a server
      // still holds): sending the next request now could find both channels taken. Wait for
      // the end of the stream, which also shows that nothing else (no 666) reached it.
      FLOE_CHILD_CHECK(eventually([&] { return !fresh.is_connected(); }));
      FLOE_CHILD_CHECK(!fresh.try_receive());
    }
    done.notify();
    return 0;
  });
  ASSERT_EQ(first_sent.wait(), 1);
  auto stale = receive_within(server);
  ASSERT_TRUE(stale);
  answered_late.notify();
  // Keep answering the first request while the client sends newer ones on the same client.
  bool finished = eventually(
      [&] {
        stale->send_copy(666);
        while (auto request = server.try_receive())
          request->send_copy(request->payload() + 1000);
        return done.wait(0ms) == 1;
      },
      30s);
  EXPECT_TRUE(finished);
  EXPECT_EQ(client_process.wait(), 0);
}

TEST_F(RequestResponse, IsConnectedTurnsFalseOnceServersLetGoWithResponsesStillBuffered) {
  auto service = builder().max_servers(2).create();
  Signal release_first, first_done, release_second, second_done, finish;
  // Each server answers with three responses and lets go when told.
  auto serve = [&](std::uint64_t tag, const Signal& release, const Signal& done) {
    return server_answering([&, tag](auto& request) {
      for (std::uint64_t i = 0; i < 3; ++i)
        FLOE_CHILD_CHECK(request->send_copy(tag + i));
      FLOE_CHILD_CHECK(release.wait() == 1);
      request.reset();
      done.notify();
      return finish.wait() == 1 ? 0 : 2;  // the server port itself stays
    });
  };
  ChildProcess first = serve(10, release_first, first_done);
  ChildProcess second = serve(20, release_second, second_done);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  EXPECT_EQ(pending.number_of_server_connections(), 2u);

  release_first.notify();
  ASSERT_EQ(first_done.wait(), 1);
  EXPECT_TRUE(pending.is_connected()) << "the second server still holds the request";
  EXPECT_EQ(pending.number_of_server_connections(), 1u);
  release_second.notify();
  ASSERT_EQ(second_done.wait(), 1);
  EXPECT_FALSE(pending.is_connected()) << "six responses are buffered, yet nobody is connected";
  EXPECT_EQ(pending.number_of_server_connections(), 0u);

  std::multiset<std::uint64_t> got;
  while (auto r = pending.try_receive())
    got.insert(r->payload());
  EXPECT_EQ(got, (std::multiset<std::uint64_t>{10, 11, 12, 20, 21, 22}));
  EXPECT_FALSE(pending.is_connected());
  EXPECT_EQ(pending.number_of_overwritten_responses(), 0u);
  finish.notify();
  finish.notify();
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(second.wait(), 0);
}

TEST_F(RequestResponse, RequestsOfAClientThatWentAwayNeedFireAndForget) {
  for (bool fire_and_forget : {false, true}) {
    SCOPED_TRACE(fire_and_forget);
    Config isolated = isolated_config();
    Node here = Node::create("f-and-f", isolated);
    auto service = here.service_builder("Test/FireAndForget")
                       .request_response<std::uint64_t, std::uint64_t>()
                       .enable_fire_and_forget_requests(fire_and_forget)
                       .create();
    auto server = service.server_builder().create();
    ChildProcess client_process([&] {
      Node n = Node::create("gone", isolated);
      auto s = n.service_builder("Test/FireAndForget")
                   .request_response<std::uint64_t, std::uint64_t>()
                   .open();
      auto client = s.client_builder().create();
      auto pending = client.send_copy(42);
      return pending.number_of_server_connections() == 1 ? 0 : 1;
    });
    ASSERT_EQ(client_process.wait(), 0);
    auto request = server.try_receive();
    ASSERT_EQ(request.has_value(), fire_and_forget);
    if (request) {
      EXPECT_EQ(request->payload(), 42u);
      EXPECT_FALSE(request->is_connected());
    }
  }
}

TEST_F(RequestResponse, SafeOverflowKeepsTheNewestResponses) {
  auto service =
      builder().max_response_buffer_size(2).enable_safe_overflow_for_responses(true).create();
  auto server = service.server_builder().create();
  EXPECT_EQ(send_into_an_unread_stream(server, 5, {4, 5}, 3), std::vector<bool>(5, true));
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u) << "evicted chunks went back";
}

TEST_F(RequestResponse, ResponsesOverwrittenBySafeOverflowAreCounted) {
  // The defaults for a "latest value wins" stream: safe overflow, a small buffer.
  auto service = builder()
                     .max_response_buffer_size(2)
                     .max_active_requests_per_client(1)
                     .enable_safe_overflow_for_responses(true)
                     .create();
  Signal ready, burst, read;
  ChildProcess server_process([&] {
    auto s = open_as("child");
    auto server = s.server_builder().create();
    ready.notify();
    {
      auto request = receive_within(server);
      FLOE_CHILD_CHECK(request);
      for (std::uint64_t i = 1; i <= 5; ++i)  // into a buffer of 2 that nobody reads
        FLOE_CHILD_CHECK(request->send_copy(i));
      burst.notify(1);
      FLOE_CHILD_CHECK(read.wait() == 1);
      for (std::uint64_t i = 6; i <= 10; ++i)
        FLOE_CHILD_CHECK(request->send_copy(i));
    }
    burst.notify(2);
    // A new request on the same channel is numbered from 0 again.
    auto next = receive_within(server);
    FLOE_CHILD_CHECK(next);
    FLOE_CHILD_CHECK(next->send_copy(100));
    return 0;
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  {
    auto pending = client.send_copy(1);
    ASSERT_EQ(burst.wait(), 1);
    EXPECT_EQ(pending.number_of_overwritten_responses(), 0u) << "nothing received: not known yet";
    std::vector<std::uint64_t> sequence;
    while (auto r = pending.try_receive()) {
      EXPECT_EQ(r->header().sequence_number + 1, r->payload());
      sequence.push_back(r->header().sequence_number);
    }
    EXPECT_EQ(sequence, (std::vector<std::uint64_t>{3, 4}));
    EXPECT_EQ(pending.number_of_overwritten_responses(), 3u);
    read.notify();
    ASSERT_EQ(burst.wait(), 2);
    EXPECT_EQ(receive_stream(pending), (std::vector<std::uint64_t>{9, 10}));
    EXPECT_EQ(pending.number_of_overwritten_responses(), 10u - 4u) << "sent - received";
  }
  auto next = client.send_copy(2);
  auto r = receive_within(next);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload(), 100u);
  EXPECT_EQ(r->header().sequence_number, 0u);
  EXPECT_EQ(next.number_of_overwritten_responses(), 0u);
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(RequestResponse, DiscardBackpressureRefusesWhatDoesNotFit) {
  auto service =
      builder().max_response_buffer_size(2).enable_safe_overflow_for_responses(false).create();
  auto server = service.server_builder().backpressure(Backpressure::discard).create();
  // Refused sends return false to the server; they are no gap in the numbering: nothing is
  // counted as overwritten.
  EXPECT_EQ(send_into_an_unread_stream(server, 4, {1, 2}, 0),
            (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u) << "refused chunks went back";
}

TEST_F(RequestResponse, BlockingBackpressureWaitsForTheClient) {
  auto service =
      builder().max_response_buffer_size(2).enable_safe_overflow_for_responses(false).create();
  Signal ready;
  ChildProcess server_process([&] {
    auto s = open_as("child");
    auto server = s.server_builder().backpressure(Backpressure::block).create();
    ready.notify();
    auto request = receive_within(server);
    FLOE_CHILD_CHECK(request);
    for (std::uint64_t i = 1; i <= 50; ++i)
      FLOE_CHILD_CHECK(request->send_copy(i));
    return 0;
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  std::vector<std::uint64_t> expected(50);
  for (std::uint64_t i = 0; i < 50; ++i)
    expected[i] = i + 1;
  std::vector<std::uint64_t> got;
  std::uint64_t next_sequence = 0;
  const auto take_one = [&] {
    auto r = pending.try_receive();
    if (!r) return false;
    got.push_back(r->payload());
    EXPECT_EQ(r->header().sequence_number, next_sequence++);
    return true;
  };
  ASSERT_TRUE(eventually([&] {
    if (take_one()) std::this_thread::sleep_for(1ms);  // a slow reader: the server must wait
    return !pending.is_connected();
  }));
  while (take_one()) {
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(pending.number_of_overwritten_responses(), 0u) << "a lossless stream";
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(RequestResponse, HeadersAndUserHeadersTravelWithThePayload) {
  struct Meta {
    std::uint32_t tag;
    char label[12];
  };
  auto service = node.service_builder("Test/Headers")
                     .request_response<std::uint64_t, double>()
                     .request_user_header<Meta>()
                     .response_user_header<std::uint64_t>()
                     .create();
  Signal ready;
  ChildProcess server_process([&] {
    Node n = Node::create("child", config);
    auto s = n.service_builder("Test/Headers")
                 .request_response<std::uint64_t, double>()
                 .request_user_header<Meta>()
                 .response_user_header<std::uint64_t>()
                 .open();
    auto server = s.server_builder().create();
    ready.notify();
    auto request = receive_within(server);
    FLOE_CHILD_CHECK(request);
    FLOE_CHILD_CHECK(request->user_header().tag == 77);
    FLOE_CHILD_CHECK(std::string(request->user_header().label) == "hello");
    auto response = request->loan();
    response.user_header() = request->header().request_id;
    *response = 2.5 * static_cast<double>(request->payload());
    FLOE_CHILD_CHECK(std::move(response).send());
    return 0;
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  auto request = client.loan();
  EXPECT_EQ(request.payload(), 0u) << "value-initialized";
  EXPECT_EQ(request.user_header().tag, 0u);
  request.user_header().tag = 77;
  std::strcpy(request.user_header().label, "hello");
  *request = 4;
  EXPECT_EQ(request.header().client_id, client.id());
  auto pending = std::move(request).send();
  auto response = receive_within(pending);
  ASSERT_TRUE(response);
  EXPECT_DOUBLE_EQ(response->payload(), 10.0);
  EXPECT_EQ(response->user_header(), pending.header().request_id);
  EXPECT_EQ(pending.payload(), 4u);
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(RequestResponse, ARequestNobodyServesReachesNoServer) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  EXPECT_EQ(pending.number_of_server_connections(), 0u);
  EXPECT_FALSE(pending.is_connected());
  EXPECT_FALSE(pending.try_receive());
}

}  // namespace
}  // namespace floe::test
