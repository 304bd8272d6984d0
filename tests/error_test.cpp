// What a floe::Error says: its message once, with the code still comparing equal to an Errc.

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <stop_token>
#include <string>
#include <type_traits>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

static_assert(std::is_nothrow_copy_constructible_v<Error>, "an exception copies without throwing");

TEST(ErrorTest, WhatIsTheMessageAloneAndTheCodeIsTheErrc) {
  const Error error(Errc::timed_out, "floe: the wait timed out");
  EXPECT_STREQ(error.what(), "floe: the wait timed out");
  EXPECT_EQ(error.code(), Errc::timed_out);
  EXPECT_EQ(error.code().category().name(), std::string("floe"));

  const Error copy = error;
  EXPECT_STREQ(copy.what(), "floe: the wait timed out");
  EXPECT_EQ(copy.code(), Errc::timed_out);
}

TEST(ErrorTest, AnotherCategorysErrorKeepsItsCodeAndSaysItsMessageOnce) {
  const Error error(std::error_code(EMFILE, std::generic_category()),
                    "floe: open(/dev/shm, O_TMPFILE): Too many open files");
  EXPECT_STREQ(error.what(), "floe: open(/dev/shm, O_TMPFILE): Too many open files");
  EXPECT_EQ(error.code(), std::errc::too_many_files_open);
}

TEST(ErrorTest, CodesKeepTheirNumbers) {
  // The numbers are ABI (Python, other builds): a new code is appended, never inserted.
  EXPECT_EQ(static_cast<int>(Errc::invalid_name), 1);
  EXPECT_EQ(static_cast<int>(Errc::exceeds_max_active_requests), 10);
  EXPECT_EQ(static_cast<int>(Errc::timed_out), 12);
  EXPECT_EQ(static_cast<int>(Errc::no_response), 23);
  EXPECT_EQ(static_cast<int>(Errc::exceeds_capacity), 24);
  EXPECT_EQ(static_cast<int>(Errc::exceeds_max_slice_len), 25);
  EXPECT_EQ(make_error_code(Errc::exceeds_max_slice_len).message(),
            "exceeds the max slice length of the port");
}

using ErrorMessageTest = AsyncServiceTest;

/// The message of the floe::Error an awaited operation fails with.
template <typename Operation>
Task<std::string> message_of_await(Operation operation) {
  try {
    co_await std::move(operation);
  } catch (const Error& e) {
    co_return e.what();
  }
  co_return std::string();
}

TEST_F(ErrorMessageTest, ATimedOutWaitSaysWhatItWaitedForOnceAndWhatToDo) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  EXPECT_EQ(runtime.block_on(
                message_of_await(with_timeout(server.receive(), std::chrono::milliseconds(1)))),
            "floe: the wait for a request timed out; give it a later deadline, or check that the "
            "other side is running");
  auto pending = client.send_copy(1);
  EXPECT_EQ(runtime.block_on(
                message_of_await(with_timeout(pending.receive(), std::chrono::milliseconds(1)))),
            "floe: the wait for a response timed out; give it a later deadline, or check that "
            "the other side is running");
}

TEST_F(ErrorMessageTest, ACancelledWaitSaysWhatCancelsOne) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Runtime runtime(asleep);
  std::stop_source stop;
  stop.request_stop();
  const std::string message = runtime.block_on(message_of_await(server.receive(stop.get_token())));
  EXPECT_EQ(message,
            "floe: the wait for a request was cancelled (by its stop token, Runtime::stop(), an "
            "Asio cancellation, or the port or request it waited on going away)");
}

}  // namespace
}  // namespace floe::test
