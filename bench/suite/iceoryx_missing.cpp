// iceoryx's rows when libiceoryx-posh-dev or iox-roudi (package iceoryx) was not found at
// configure time: each says so (see iceoryx_rows.cpp for what they measure).

#include "suite.hpp"

namespace floe::bench {
namespace {

[[maybe_unused]] const bool registered = [] {
  for (const char* name :
       {"round_trip/iceoryx/polling", "round_trip/iceoryx/asleep", "payload_8/iceoryx/loan",
        "payload_4096/iceoryx/loan", "payload_65536/iceoryx/loan", "payload_1048576/iceoryx/loan",
        "payload_16777216/iceoryx/loan", "stream/iceoryx/polling"}) {
    register_missing(name, "libiceoryx-posh-dev / iceoryx not installed");
  }
  return true;
}();

}  // namespace
}  // namespace floe::bench
