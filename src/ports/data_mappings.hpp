#pragma once
// The data segments of other ports that one receiving port (a server reading requests, a client
// reading responses) mapped: read-only, validated, each with a count of the chunks held from it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "registry/data_segments.hpp"

namespace floe::detail {

class ServiceSegment;
/// One mapped data segment, as a hold names it for release().
struct DataMapping;

class DataMappings {
 public:
  /// Mappings of the data segments of writers of `kind` (clients: requests; servers: responses).
  DataMappings(const ServiceSegment& segment, DataSegmentKind kind);
  DataMappings(const DataMappings&) = delete;
  DataMappings& operator=(const DataMappings&) = delete;
  ~DataMappings();

  /// What hold() found.
  struct Held {
    enum class Outcome { held, gone, refused };
    Outcome outcome = Outcome::refused;
    const std::byte* payload = nullptr;  // when held: the slot's first element
    DataMapping* mapping = nullptr;      // when held: give it back to release()
    std::string problem;                 // when refused: why
  };
  /// The elements of a chunk of the writer in slot `writer`, generation `generation`, placed in
  /// its data segment `number` at `slot` with `length` elements: mapped on first meeting (cold:
  /// a system call or three), then one hold taken on the mapping. gone: no such object and the
  /// writer is no longer that generation (it died or closed); refused: the object, the number,
  /// the slot or the length (above that segment's max) is not what a correct writer makes.
  /// Throws floe::Error when mapping fails for want of resources (Errc::out_of_memory).
  Held hold(std::uint32_t writer, std::uint32_t generation, std::uint32_t number,
            std::uint64_t slot, std::uint64_t length);
  /// Gives back a hold; a mapping nobody holds is unmapped once it is not its writer's newest.
  void release(DataMapping* mapping) noexcept;
  /// How many data segments this port has mapped now (for tests and tools).
  std::size_t mapped() const noexcept;

 private:
  struct Writer;
  bool writer_is(std::uint32_t writer, std::uint32_t generation) const noexcept;

  const ServiceSegment& segment_;
  DataSegmentKind kind_;
  bool group_access_;
  mutable std::mutex mutex_;  // holds come from receiving threads, releases from any
  std::vector<std::unique_ptr<Writer>> writers_;       // by writer slot, made on first meeting
  std::vector<std::unique_ptr<DataMapping>> retired_;  // of writers since gone, still held
};

}  // namespace floe::detail
