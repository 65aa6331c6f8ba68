#include "libs/events/lane_runs.h"

#include <cstdlib>
#include <set>
#include <string>

#include "libs/observability/log.h"

namespace meldpunt::events {

LaneRuns::LaneRuns(const std::vector<kafka::Record>& records, bool one_record_per_case)
    : records_(records),
      one_record_per_case_(one_record_per_case),
      partition_of_(records.size()),
      done_(records.size(), 0) {
  // A lane holds a few partitions: a look along them, by the first record of each, copies no
  // topic names.
  for (size_t i = 0; i < records.size(); ++i) {
    size_t p = 0;
    while (p < partitions_.size() &&
           (records[partitions_[p][0]].partition != records[i].partition ||
            records[partitions_[p][0]].topic != records[i].topic)) {
      ++p;
    }
    if (p == partitions_.size()) partitions_.emplace_back();
    partitions_[p].push_back(i);
    partition_of_[i] = p;
  }
  next_.assign(partitions_.size(), 0);
}

std::vector<size_t> LaneRuns::Next(const std::function<bool(size_t, bool)>& take,
                                   const std::function<bool(size_t)>& inert) const {
  std::vector<size_t> run;
  std::set<std::string> cases;
  for (size_t p = 0; p < partitions_.size(); ++p) {
    const std::vector<size_t>& records = partitions_[p];
    for (size_t k = next_[p]; k < records.size(); ++k) {
      const size_t i = records[k];
      // An inert record changes nothing, so it may sit beside any record of its case.
      const bool counted = one_record_per_case_ && !(inert && inert(i));
      if (counted && cases.count(records_[i].key) > 0) break;
      if (!take(i, k == next_[p])) break;
      if (counted) cases.insert(records_[i].key);
      run.push_back(i);
    }
  }
  return run;
}

void LaneRuns::Done(size_t i) {
  const size_t p = partition_of_[i];
  if (next_[p] >= partitions_[p].size() || partitions_[p][next_[p]] != i) {
    // A commit would pass records not handled: a fault in the loop, never in the input.
    log::Error("a record is done only after the records before it in its partition",
               {{"topic", records_[i].topic},
                {"partition", records_[i].partition},
                {"offset", records_[i].offset}});
    std::abort();
  }
  ++next_[p];
  done_[i] = 1;
  ++done_count_;
}

}  // namespace meldpunt::events
