#pragma once
// What every ```cpp block of the docs may use without writing it (see docs/CONTRIBUTING.md,
// "Code blocks in the docs"): floe, the examples' payload type, chrono literals and stand-ins
// for "do something with it".

#include <floe/floe.hpp>

#include <signal.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "transmission_data.hpp"  // examples/request_response: the README's response type

using namespace std::chrono_literals;

/// Stands for whatever the reader does with a value.
template <typename... Values>
void use(const Values&...) {}
/// Stands for printing values.
template <typename... Values>
void print(const Values&...) {}
/// Stands for the rest of a program's work.
inline void do_something_else() {}

/// Payloads the README's attribute and alignment snippets name.
struct FrameRequest {
  std::uint32_t camera;
};
struct Frame {
  std::uint8_t pixels[64];
};
struct Vector {
  float values[16];
};

/// The types behind the names a `<!-- snippet: with ... -->` marker provides: the README's
/// service of `std::uint64_t` requests answered by `TransmissionData` responses.
namespace snippet {
using Service = floe::Service<std::uint64_t, TransmissionData>;
using Client = floe::Client<std::uint64_t, TransmissionData>;
using Server = floe::Server<std::uint64_t, TransmissionData>;
using Pending = Client::Pending;
using Active = Server::Active;
}  // namespace snippet
