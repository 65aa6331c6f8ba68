// The runs a consumer lane hands its batch handler (libs/events/event_consumer.h): a lane's records
// may span several partitions, and a run takes from every one of them its next records at once,
// so that the partitions go side by side in one run instead of one after another.
//
//   LaneRuns runs(records, /*one_record_per_case=*/true);
//   while (!runs.finished()) {
//     std::vector<size_t> run = runs.Next([&](size_t i, bool head) { return Decodes(i); });
//     ... handle the run; for each record of the prefix that is done: runs.Done(run[k]);
//   }
//
// A run holds, per partition, a prefix of the records not done yet, in log order and together;
// the partitions come in the order they first appear in `records`. A partition's part ends at the
// first record `take` refuses and, with `one_record_per_case`, before a record of a case the run
// already holds, unless one of the two is inert (`inert`: a record that changes nothing of its
// case, such as deadline-watch's own clock records, which it reads and drops). What is done is
// therefore a prefix of each partition, which is what a commit of the partition's last done
// record needs.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "libs/kafka/consumer.h"

namespace meldpunt::events {

class LaneRuns {
 public:
  // `records` must outlive this object; each partition's records in log order.
  LaneRuns(const std::vector<kafka::Record>& records, bool one_record_per_case);

  // The next run: record indexes into `records`. `take(i, head)` says whether record i may join
  // it (`head`: i is its partition's first record not done). Empty when finished, or when every
  // partition's first record not done was refused. With `one_record_per_case`, `inert(i)`
  // (optional) is asked of each record before `take`: an inert record neither ends the run as a
  // case's second record nor counts as its case's record.
  std::vector<size_t> Next(const std::function<bool(size_t, bool)>& take,
                           const std::function<bool(size_t)>& inert = nullptr) const;
  // Marks record i done; it must be its partition's first record not done.
  void Done(size_t i);

  bool done(size_t i) const { return done_[i] != 0; }
  // Of every record, whether it is done (1) or not (0).
  const std::vector<char>& done_flags() const { return done_; }
  bool finished() const { return done_count_ == done_.size(); }
  size_t done_count() const { return done_count_; }

 private:
  const std::vector<kafka::Record>& records_;
  bool one_record_per_case_;
  std::vector<std::vector<size_t>> partitions_;  // record indexes of each partition, log order
  std::vector<size_t> next_;                     // per partition: its first record not done
  std::vector<size_t> partition_of_;             // per record: its index in partitions_
  std::vector<char> done_;
  size_t done_count_ = 0;
};

}  // namespace meldpunt::events
