#include "libs/events/batch.h"

#include <utility>

namespace meldpunt::events {

Batch::Batch(std::vector<Item> items) : items_(std::move(items)), entries_(items_.size()) {}

absl::Status Batch::Send(size_t index, kafka::Producer& producer, const kafka::Message& message) {
  Entry& entry = entries_[index];
  if (entry.acks.empty()) entry.acks.emplace_back();
  return entry.acks.back().Send(producer, message);
}

void Batch::After(size_t index, AfterAcks then) { entries_[index].then.push_back(std::move(then)); }

void Batch::Await(size_t index, Acks acks, AfterAcks then) {
  entries_[index].acks.push_back(std::move(acks));
  if (then) entries_[index].then.push_back(std::move(then));
}

void Batch::Fail(size_t index, absl::Status error) {
  if (failed_.has_value() && *failed_ <= index) return;
  failed_ = index;
  failure_ = std::move(error);
}

std::optional<size_t> Batch::Finish(absl::Time deadline, absl::Status* error) {
  const size_t end = failed_.value_or(items_.size());
  for (size_t i = 0; i < end; ++i) {
    Entry& entry = entries_[i];
    absl::Status status;
    for (const Acks& acks : entry.acks) {
      if (status.ok()) status = acks.Wait(deadline);
    }
    for (AfterAcks& then : entry.then) {
      if (!status.ok()) break;
      status = then();
    }
    if (!status.ok()) {
      *error = std::move(status);
      return i;
    }
  }
  if (failed_.has_value()) {
    *error = failure_;
    return failed_;
  }
  return std::nullopt;
}

}  // namespace meldpunt::events
