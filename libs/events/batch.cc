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

void Batch::AfterAll(Shared step) { shared_.push_back(std::move(step)); }

void Batch::Fail(size_t index, absl::Status error) {
  if (failed_.has_value() && *failed_ <= index) return;
  failed_ = index;
  failure_ = std::move(error);
}

std::optional<size_t> Batch::Finish(absl::Time deadline, absl::Status* error) {
  std::optional<size_t> first = failed_;
  absl::Status first_error = failure_;
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
      first = i;
      first_error = std::move(status);
      break;
    }
  }
  const size_t done = first.value_or(items_.size());
  for (Shared& step : shared_) {
    absl::Status status;
    const std::optional<size_t> at = step(done, &status);
    if (at.has_value() && *at < done && (!first.has_value() || *at < *first)) {
      first = at;
      first_error = std::move(status);
    }
  }
  if (first.has_value()) *error = first_error;
  return first;
}

}  // namespace meldpunt::events
