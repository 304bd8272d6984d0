#include "ports/data_mappings.hpp"

#include <algorithm>
#include <map>

#include "registry/names.hpp"
#include "registry/service_segment.hpp"
#include "shm/atomics.hpp"

namespace floe::detail {

struct DataMapping {
  ReadDataSegment data;
  std::uint32_t number;
  std::uint32_t held = 0;  // under the mutex
  bool retired = false;    // its writer's newest no more, or its writer gone
};

struct DataMappings::Writer {
  std::uint32_t generation = 0;
  std::uint32_t newest = 0;
  std::map<std::uint32_t, std::unique_ptr<DataMapping>> by_number;
};

DataMappings::DataMappings(const ServiceSegment& segment, DataSegmentKind kind)
    : segment_(segment),
      kind_(kind),
      group_access_(segment.shared_with_group()),
      writers_(kind == DataSegmentKind::request ? segment.limits().max_clients
                                                : segment.limits().max_servers) {}

DataMappings::~DataMappings() = default;

bool DataMappings::writer_is(std::uint32_t writer, std::uint32_t generation) const noexcept {
  const SegmentView& view = segment_.view();
  PortRecord* record =
      kind_ == DataSegmentKind::request ? view.client(writer) : view.server(writer);
  return load(record->state) == static_cast<std::uint32_t>(SlotState::active) &&
         load(record->generation) == generation;
}

DataMappings::Held DataMappings::hold(std::uint32_t writer, std::uint32_t generation,
                                      std::uint32_t number, std::uint64_t slot,
                                      std::uint64_t length) {
  Held result;
  if (writer >= writers_.size() || number == 0 || number > kMaxDataSegmentNumber ||
      slot >= data_segment_slots(segment_.layout(), kind_)) {
    result.problem = "names data segment " + std::to_string(number) + ", slot " +
                     std::to_string(slot) + ", which no correct writer uses";
    return result;
  }
  const std::lock_guard lock(mutex_);
  auto& entry = writers_[writer];
  if (entry && entry->generation != generation) {
    // A new life of the slot: the old one's mappings go once nobody holds them.
    for (auto& [n, mapped] : entry->by_number) {
      if (mapped->held != 0) {
        mapped->retired = true;
        retired_.push_back(std::move(mapped));
      }
    }
    entry.reset();
  }
  if (!entry) {
    entry = std::make_unique<Writer>();
    entry->generation = generation;
  }
  auto found = entry->by_number.find(number);
  if (found == entry->by_number.end()) {
    const auto writer_kind =
        kind_ == DataSegmentKind::request ? DataSegmentWriter::client : DataSegmentWriter::server;
    DataSegmentOpening opening = open_data_segment(
        data_segment_name(segment_.object_name(), writer_kind, writer, generation, number),
        segment_.layout(), kind_, writer, generation, number, group_access_);
    if (opening.outcome == DataSegmentOpening::Outcome::missing) {
      if (!writer_is(writer, generation)) {
        result.outcome = Held::Outcome::gone;
        return result;
      }
      result.problem = "names data segment " + std::to_string(number) + ", which does not exist";
      return result;
    }
    if (opening.outcome == DataSegmentOpening::Outcome::refused) {
      result.problem =
          "names data segment " + std::to_string(number) + ", which " + opening.problem;
      return result;
    }
    auto mapped = std::make_unique<DataMapping>(DataMapping{std::move(*opening.segment), number});
    found = entry->by_number.emplace(number, std::move(mapped)).first;
    if (number > entry->newest) {
      entry->newest = number;
      // Older mappings nobody holds go now; held ones when their last hold goes.
      std::erase_if(entry->by_number, [&](const auto& item) {
        if (item.first == number) return false;
        item.second->retired = true;
        return item.second->held == 0;
      });
    }
  }
  DataMapping& mapped = *found->second;
  if (length > mapped.data.geometry().max_slice_len) {
    result.problem = "holds a slice length of " + std::to_string(length) +
                     " elements in data segment " + std::to_string(number) + ", whose slots hold " +
                     std::to_string(mapped.data.geometry().max_slice_len);
    return result;
  }
  if (mapped.data.damaged()) {
    // Its pages are private zeros now: what the writer writes there is never seen here.
    result.problem = "is in data segment " + std::to_string(number) +
                     ", which another process shrank under this one";
    return result;
  }
  ++mapped.held;
  result.outcome = Held::Outcome::held;
  result.payload = mapped.data.slot(slot);
  result.mapping = &mapped;
  return result;
}

void DataMappings::release(DataMapping* mapping) noexcept {
  if (mapping == nullptr) return;
  const std::lock_guard lock(mutex_);
  if (--mapping->held != 0 || !mapping->retired) return;
  std::erase_if(retired_, [&](const auto& m) { return m.get() == mapping; });
  for (auto& entry : writers_) {
    if (!entry) continue;
    std::erase_if(entry->by_number, [&](const auto& item) { return item.second.get() == mapping; });
  }
}

std::size_t DataMappings::mapped() const noexcept {
  const std::lock_guard lock(mutex_);
  std::size_t count = retired_.size();
  for (const auto& entry : writers_) {
    if (entry) count += entry->by_number.size();
  }
  return count;
}

}  // namespace floe::detail
