// Message handles outliving the ports they came from, across real processes, as in iceoryx2: a
// PendingResponse still receives after its Client (and Service and Node) went, an ActiveRequest
// still answers after its Server went, and while any such handle lives the service is there:
// nobody can create it anew until the last one is gone. A Response or ResponseMut may outlive
// its PendingResponse or ActiveRequest in turn.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <optional>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

class Outliving : public U64ServiceTest {
 protected:
  /// A server in another process: once `sent`, it takes one request, lets go of its Server,
  /// Service and Node, notifies `gone` and hands the request (a non-empty optional) to
  /// `answer`, whose result is the child's exit code.
  template <typename Answer>
  ChildProcess server_letting_go(const Signal& sent, const Signal& gone, Answer answer) {
    return started([&](const Signal& ready) {
      std::optional<Node> n(Node::create("server", config));
      std::optional<U64Service> s(builder(*n).open());
      std::optional<U64Server> server(s->server_builder().create());
      ready.notify();
      FLOE_CHILD_CHECK(sent.wait() == 1);
      std::optional<U64Active> request(receive_within(*server));
      FLOE_CHILD_CHECK(request);
      server.reset();
      s.reset();
      n.reset();
      gone.notify();
      return answer(request);
    });
  }
};

TEST_F(Outliving, APendingResponseReceivesAfterItsClientServiceAndNodeWent) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Signal answer;
  ChildProcess client_process = started([&](const Signal& sent) {
    std::optional<Node> n(Node::create("client", config));
    std::optional<U64Service> s(builder(*n).open());
    std::optional<U64Client> client(s->client_builder().create());
    auto pending = client->send_copy(4);
    client.reset();
    s.reset();
    n.reset();
    sent.notify();
    FLOE_CHILD_CHECK(answer.wait() == 1);
    FLOE_CHILD_CHECK(receive_stream(pending) == (std::vector<std::uint64_t>{40, 41, 42}));
    return 0;
  });
  auto request = receive_within(server);
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->is_connected()) << "the PendingResponse still listens";
  for (std::uint64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(request->send_copy(request->payload() * 10 + i));
  request.reset();
  answer.notify();
  EXPECT_EQ(client_process.wait(), 0);
}

TEST_F(Outliving, AnActiveRequestAnswersAfterItsServerServiceAndNodeWent) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal sent, server_gone, answer;
  ChildProcess server_process = server_letting_go(sent, server_gone, [&](auto& request) {
    FLOE_CHILD_CHECK(answer.wait() == 1);
    FLOE_CHILD_CHECK(request->is_connected());
    auto loan = request->loan();
    *loan = 70;
    FLOE_CHILD_CHECK(std::move(loan).send());
    FLOE_CHILD_CHECK(request->send_copy(71));
    return 0;  // the request goes with the process: the stream ends after 71
  });
  auto pending = client.send_copy(7);
  ASSERT_EQ(pending.number_of_server_connections(), 1u);
  sent.notify();
  ASSERT_EQ(server_gone.wait(), 1);
  EXPECT_TRUE(pending.is_connected()) << "the ActiveRequest holds the stream open";
  answer.notify();
  EXPECT_EQ(receive_stream(pending), (std::vector<std::uint64_t>{70, 71}));
  EXPECT_EQ(server_process.wait(), 0);
}

// Which message handle the child keeps when it lets go of everything else.
enum class Kept { request_mut, pending_response, active_request };

TEST_F(Outliving, TheServiceCannotBeCreatedAgainWhileOnlyAMessageHandleHoldsIt) {
  for (const Kept kept : {Kept::request_mut, Kept::pending_response, Kept::active_request}) {
    SCOPED_TRACE(static_cast<int>(kept));
    config = isolated_config();
    Signal let_go, gone;
    ChildProcess holder = started([&](const Signal& holding) {
      std::optional<Node> n(Node::create("holder", config));
      std::optional<U64Service> s(builder(*n).create());
      std::optional<U64Client> client(s->client_builder().create());
      std::optional<U64Server> server(s->server_builder().create());
      std::optional<Client<std::uint64_t, std::uint64_t>::Loan> loan;
      std::optional<U64Pending> pending;
      std::optional<U64Active> active;
      switch (kept) {
        case Kept::request_mut:
          loan.emplace(client->loan());
          break;
        case Kept::pending_response:
          pending.emplace(client->send_copy(1));
          break;
        case Kept::active_request: {
          auto p = client->send_copy(1);
          auto request = server->try_receive();
          FLOE_CHILD_CHECK(request);
          active.emplace(std::move(*request));
          break;
        }
      }
      client.reset();
      server.reset();
      s.reset();
      n.reset();
      holding.notify();
      FLOE_CHILD_CHECK(let_go.wait() == 1);
      loan.reset();
      pending.reset();
      active.reset();
      gone.notify();
      return let_go.wait() == 1 ? 0 : 1;
    });
    Node here = Node::create("creator", config);
    EXPECT_EQ(error_of([&] { builder(here).create(); }), Errc::service_already_exists);
    // Opening it is still possible: the service is there, held by the handle alone.
    EXPECT_EQ(error_of([&] { builder(here).open(); }), Errc{});
    let_go.notify();
    ASSERT_EQ(gone.wait(), 1);
    EXPECT_EQ(error_of([&] { builder(here).create(); }), Errc{})
        << "the last handle went, the service with it";
    let_go.notify();
    EXPECT_EQ(holder.wait(), 0);
  }
}

TEST_F(Outliving, AResponseOutlivesItsPendingResponseAndClientAndHoldsItsRequestSlot) {
  auto service = builder().max_active_requests_per_client(1).create();
  Signal answered;
  // Three requests, each answered with payload * 10 and payload * 10 + 1, then let go.
  ChildProcess server_process = started([&](const Signal& ready) {
    auto server = open_as("server").server_builder().create();
    ready.notify();
    for (int round = 0; round < 3; ++round) {
      {
        auto request = receive_within(server);
        FLOE_CHILD_CHECK(request);
        FLOE_CHILD_CHECK(request->send_copy(request->payload() * 10));
        FLOE_CHILD_CHECK(request->send_copy(request->payload() * 10 + 1));
      }
      answered.notify();
    }
    return 0;
  });
  std::optional<U64Client> client(service.client_builder().create());
  std::optional<U64Pending> pending(client->send_copy(5));
  ASSERT_EQ(answered.wait(), 1);
  auto kept = receive_within(*pending);
  ASSERT_TRUE(kept);
  pending.reset();
  // Its request slot stays with it: the one request this client may have open.
  EXPECT_EQ(error_of([&] { (void)client->send_copy(6); }), Errc::exceeds_max_active_requests);
  EXPECT_EQ(kept->payload(), 50u);
  kept.reset();
  pending.emplace(client->send_copy(6));
  ASSERT_EQ(answered.wait(), 1);
  EXPECT_EQ(receive_stream(*pending), (std::vector<std::uint64_t>{60, 61}));
  pending.reset();

  // Outliving the Client as well: the port stays until the response goes.
  pending.emplace(client->send_copy(7));
  ASSERT_EQ(answered.wait(), 1);
  auto orphan = receive_within(*pending);
  ASSERT_TRUE(orphan);
  pending.reset();
  client.reset();
  EXPECT_EQ(server_process.wait(), 0);
  EXPECT_EQ(service.usage().clients, 1u) << "the response keeps its port";
  EXPECT_EQ(orphan->payload(), 70u);
  EXPECT_EQ(orphan->origin(), orphan->header().server_id);
  orphan.reset();
  EXPECT_EQ(service.usage().clients, 0u);
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u);
}

TEST_F(Outliving, AResponseMutOutlivesItsActiveRequestAndServerAndTheStreamEndsAfterIt) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal sent, server_gone, dropped, go;
  ChildProcess server_process = server_letting_go(sent, server_gone, [&](auto& request) {
    auto kept = request->loan();
    auto unsent = request->loan();
    request.reset();
    dropped.notify();
    FLOE_CHILD_CHECK(go.wait() == 1);
    *kept = 90;
    FLOE_CHILD_CHECK(std::move(kept).send());
    { auto gone = std::move(unsent); }  // the last loan: the stream ends here
    FLOE_CHILD_CHECK(go.wait() == 1);
    return 0;
  });
  auto pending = client.send_copy(9);
  sent.notify();
  ASSERT_EQ(server_gone.wait(), 1);
  ASSERT_EQ(dropped.wait(), 1);
  EXPECT_TRUE(pending.is_connected()) << "the loans keep the stream open";
  go.notify();
  EXPECT_EQ(receive_stream(pending), (std::vector<std::uint64_t>{90}));
  go.notify();
  EXPECT_EQ(server_process.wait(), 0);
  EXPECT_EQ(service.usage().servers, 0u);
}

}  // namespace
}  // namespace floe::test
