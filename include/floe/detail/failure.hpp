#pragma once
// Why a core call or an operation failed, as a value: the error code, and the text a
// floe::Error thrown for it carries ("floe: service 'x': another process shrank ..."). The
// cores report failures this way so that operations keep them without exceptions; only the
// coroutine face and the synchronous API throw (raise()). The text is written on the error path
// alone: a Failure that holds nothing costs no allocation.

#include <string>
#include <system_error>
#include <utility>

#include "floe/error.hpp"

namespace floe::detail {

class Failure {
 public:
  /// Holds nothing: no failure.
  Failure() noexcept = default;

  explicit operator bool() const noexcept { return errc_ != Errc{}; }
  std::error_code code() const noexcept {
    return errc_ == Errc{} ? std::error_code{} : make_error_code(errc_);
  }
  /// Records the failure; `message` is what floe::Error::what() will return.
  void set(Errc errc, std::string message) {
    errc_ = errc;
    message_ = std::move(message);
  }
  /// Throws it as floe::Error.
  [[noreturn]] void raise() const { throw Error(errc_, message_); }

 private:
  Errc errc_{};  // every floe failure is one of floe's codes; zero is none
  std::string message_;
};

}  // namespace floe::detail
