#include "ports/slice_limits.hpp"

#include <string>

#include "floe/error.hpp"
#include "registry/service_segment.hpp"

namespace floe::detail {

void throw_exceeds_max_slice_len(const ServiceSegment& segment, SliceSide side, std::uint32_t slot,
                                 std::uint64_t length, std::uint64_t max) {
  const bool request = side == SliceSide::request;
  const std::string service_max = request ? "request_max_slice_len" : "response_max_slice_len";
  throw Error(Errc::exceeds_max_slice_len,
              "floe: " + std::string(request ? "client " : "server ") + std::to_string(slot) +
                  " of service '" + segment.service_name() + "' cannot loan a " +
                  (request ? "request" : "response") + " slice of " + std::to_string(length) +
                  " elements: it may loan at most " + std::to_string(max) +
                  ". Loan fewer, or raise the port's initial_max_slice_len (up to the "
                  "service's " +
                  service_max + ") or the service's " + service_max + " (set when it is created)");
}

}  // namespace floe::detail
