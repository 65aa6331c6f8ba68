#include "libs/kafka/consumer.h"

#include <librdkafka/rdkafka.h>

#include <atomic>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/kafka/errors.h"
#include "libs/kafka/properties.h"
#include "libs/kafka/security.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::kafka {
namespace {

std::vector<TopicPartition> Convert(const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<TopicPartition> out;
  out.reserve(partitions.size());
  for (const RdKafka::TopicPartition* tp : partitions)
    out.push_back({tp->topic(), tp->partition()});
  return out;
}

}  // namespace

class Consumer::Rebalancer : public RdKafka::RebalanceCb, public RdKafka::EventCb {
 public:
  Rebalancer(Consumer* owner, RebalanceListener* listener) : owner_(owner), listener_(listener) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    ++rebalances_;
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->assign(partitions);
      joined_ = true;
      owner_->Hold(Convert(partitions));
      log::Info("kafka partitions assigned", {{"count", partitions.size()}});
      if (listener_) listener_->OnAssigned(Convert(partitions));
    } else {
      if (listener_) listener_->OnRevoked(Convert(partitions));
      // Commit what was handled before the partitions move to another replica.
      RdKafka::ErrorCode commit = consumer->commitSync();
      if (commit != RdKafka::ERR_NO_ERROR && commit != RdKafka::ERR__NO_OFFSET) {
        log::Warning("kafka commit on revoke failed", {{"error", RdKafka::err2str(commit)}});
      }
      consumer->unassign();
      owner_->Hold({});
      log::Info("kafka partitions revoked", {{"count", partitions.size()}});
    }
  }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      log::Write(event.fatal() ? log::Level::kError : log::Level::kWarning, "kafka consumer error",
                 {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
    }
  }

  int64_t rebalances() const { return rebalances_; }
  bool joined() const { return joined_; }

 private:
  Consumer* const owner_;
  RebalanceListener* listener_;
  std::atomic<int64_t> rebalances_{0};  // only the polling thread writes it; any thread reads
  std::atomic<bool> joined_{false};
};

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const ConsumerOptions& options,
                                                           RebalanceListener* listener) {
  if (options.group_id.empty())
    return absl::InvalidArgumentError("kafka consumer: group_id is empty");
  if (options.topics.empty()) return absl::InvalidArgumentError("kafka consumer: no topics");
  std::unique_ptr<Consumer> consumer(new Consumer());
  consumer->commit_interval_ = options.commit_interval;
  consumer->rebalancer_ = std::make_unique<Rebalancer>(consumer.get(), listener);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> properties = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"client.id", options.client_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"isolation.level", "read_committed"},
      {"enable.partition.eof", "false"},
      {"session.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(options.session_timeout))},
      {"heartbeat.interval.ms",
       absl::StrCat(absl::ToInt64Milliseconds(options.session_timeout) / 4)},
      {"topic.metadata.refresh.interval.ms", "5000"},
      // TCP_NODELAY, as the producer (producer.cc): a commit or heartbeat beside a fetch in
      // flight is not held back.
      {"socket.nagle.disable", "true"},
  };
  // The process's security first (security.h), then what this client names itself.
  for (const auto& [key, value] : ProcessSecurity()) properties[key] = value;
  for (const auto& [key, value] : options.extra) properties[key] = value;
  if (absl::Status status = ApplyProperties(*conf, properties); !status.ok()) return status;
  std::string error;
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(consumer->rebalancer_.get()),
                error) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(consumer->rebalancer_.get()), error) !=
          RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka consumer callbacks: ", error));
  }
  consumer->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer->consumer_)
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", error));
  consumer->subscribed_ = options.subscribe;
  consumer->headers_ = options.headers;
  if (!options.subscribe) return consumer;
  RdKafka::ErrorCode err = consumer->consumer_->subscribe(options.topics);
  if (err != RdKafka::ERR_NO_ERROR) return ToStatus(err, "kafka subscribe");
  return consumer;
}

absl::Status Consumer::AssignFromStart(const std::string& topic, int partitions) {
  std::vector<RdKafka::TopicPartition*> list;
  for (int32_t p = 0; p < partitions; ++p) {
    list.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  RdKafka::ErrorCode err = consumer_->assign(list);
  RdKafka::TopicPartition::destroy(list);
  return ToStatus(err, absl::StrCat("kafka assign of ", topic));
}

Consumer::~Consumer() { Close(); }

absl::StatusOr<std::optional<Record>> Consumer::Poll(absl::Duration timeout) {
  MaybeCommit();
  std::unique_ptr<RdKafka::Message> message(
      consumer_->consume(static_cast<int>(absl::ToInt64Milliseconds(timeout))));
  switch (message->err()) {
    case RdKafka::ERR_NO_ERROR: {
      // Read through the C handle: the C++ accessors copy the topic name, the key and every
      // header into objects of their own first (and take the headers off the message to do so),
      // which cost the replay's reading thread a third of its time.
      const rd_kafka_message_t* raw = message->c_ptr();
      Record record;
      record.topic = rd_kafka_topic_name(raw->rkt);
      record.partition = raw->partition;
      record.offset = raw->offset;
      if (raw->key != nullptr) record.key.assign(static_cast<const char*>(raw->key), raw->key_len);
      record.value.assign(static_cast<const char*>(raw->payload), raw->len);
      record.timestamp = absl::FromUnixMillis(message->timestamp().timestamp);
      if (rd_kafka_headers_t* headers = nullptr;
          headers_ && rd_kafka_message_headers(raw, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          record.headers.emplace_back(
              name, value == nullptr ? std::string()
                                     : std::string(static_cast<const char*>(value), size));
        }
      }
      // The first record of a partition whose position is not known yet is the next to handle.
      next_offset_.try_emplace({record.topic, record.partition}, record.offset);
      return std::optional<Record>(std::move(record));
    }
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return std::optional<Record>();
    default: {
      absl::Status status = ToStatus(message->err(), "kafka consume");
      if (status.code() == absl::StatusCode::kInternal &&
          Classify(message->err()) == ErrorClass::kFatal) {
        return status;
      }
      log::Warning("kafka consume error", {{"error", message->errstr()}});
      return std::optional<Record>();
    }
  }
}

absl::Status Consumer::Commit(const Record& record) {
  std::vector<RdKafka::TopicPartition*> offsets = {
      RdKafka::TopicPartition::create(record.topic, record.partition, record.offset + 1)};
  RdKafka::ErrorCode err = consumer_->offsets_store(offsets);
  RdKafka::TopicPartition::destroy(offsets);
  // A partition revoked meanwhile cannot be committed by us: the next owner handles it again.
  if (err == RdKafka::ERR__STATE || err == RdKafka::ERR__UNKNOWN_PARTITION) return absl::OkStatus();
  if (err != RdKafka::ERR_NO_ERROR) return ToStatus(err, "kafka commit");
  next_offset_[{record.topic, record.partition}] = record.offset + 1;
  uncommitted_ = true;
  MaybeCommit();
  return absl::OkStatus();
}

void Consumer::MaybeCommit() {
  if (!uncommitted_) return;
  const absl::Time now = absl::Now();
  if (now - last_commit_ < commit_interval_) return;
  last_commit_ = now;
  uncommitted_ = false;
  // Without offsets: commits every stored offset of the assignment.
  RdKafka::ErrorCode err = consumer_->commitAsync();
  if (err != RdKafka::ERR_NO_ERROR && err != RdKafka::ERR__NO_OFFSET) {
    log::Warning("kafka commit failed", {{"error", RdKafka::err2str(err)}});
  }
}

absl::Status Consumer::CommitSync() {
  RdKafka::ErrorCode err = consumer_->commitSync();
  if (err == RdKafka::ERR__NO_OFFSET) return absl::OkStatus();
  return ToStatus(err, "kafka commit");
}

int64_t Consumer::rebalances() const { return rebalancer_->rebalances(); }

bool Consumer::joined() const { return rebalancer_->joined(); }

std::vector<TopicPartition> Consumer::Assignment() {
  std::vector<RdKafka::TopicPartition*> partitions;
  consumer_->assignment(partitions);
  std::vector<TopicPartition> out = Convert(partitions);
  RdKafka::TopicPartition::destroy(partitions);
  return out;
}

absl::StatusOr<int> Consumer::PartitionCount(const std::string& topic, absl::Duration timeout) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer_.get(), topic, nullptr, error));
  if (!handle) return absl::InvalidArgumentError(absl::StrCat("kafka topic ", topic, ": ", error));
  // A topic created a moment ago may not be known yet to the broker asked (its metadata reaches
  // the brokers of a cluster one by one): asked again until `timeout`.
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    RdKafka::Metadata* raw = nullptr;
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(100));
    RdKafka::ErrorCode err = consumer_->metadata(false, handle.get(), &raw,
                                                 static_cast<int>(absl::ToInt64Milliseconds(left)));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err != RdKafka::ERR_NO_ERROR) return ToStatus(err, absl::StrCat("metadata of ", topic));
    RdKafka::ErrorCode topic_error = RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
    int partitions = 0;
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() != topic) continue;
      topic_error = t->err();
      partitions = static_cast<int>(t->partitions()->size());
    }
    if (topic_error == RdKafka::ERR_NO_ERROR && partitions > 0) return partitions;
    const bool unknown = topic_error == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART ||
                         topic_error == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                         topic_error == RdKafka::ERR_NO_ERROR;
    if (!unknown || absl::Now() >= deadline) {
      if (topic_error == RdKafka::ERR_NO_ERROR) {
        return absl::NotFoundError(absl::StrCat("kafka topic ", topic, " not found"));
      }
      return ToStatus(topic_error, absl::StrCat("metadata of ", topic));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

absl::StatusOr<int64_t> Consumer::HighWatermark(const std::string& topic, int32_t partition,
                                                absl::Duration timeout) {
  ASSIGN_OR_RETURN(auto marks, Watermarks(topic, partition, timeout));
  return marks.second;
}

absl::StatusOr<std::pair<int64_t, int64_t>> Consumer::Watermarks(const std::string& topic,
                                                                 int32_t partition,
                                                                 absl::Duration timeout) {
  int64_t low = 0;
  int64_t high = 0;
  // As in PartitionCount: a topic or leader the broker asked does not know yet (a topic created
  // a moment ago, a leader moving) is asked again until `timeout`.
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(100));
    RdKafka::ErrorCode err = consumer_->query_watermark_offsets(
        topic, partition, &low, &high, static_cast<int>(absl::ToInt64Milliseconds(left)));
    if (err == RdKafka::ERR_NO_ERROR) return std::make_pair(low, high);
    const bool passing = err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART ||
                         err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                         err == RdKafka::ERR_NOT_LEADER_FOR_PARTITION;
    if (!passing || absl::Now() >= deadline) {
      return ToStatus(err, absl::StrCat("watermarks of ", topic));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

void Consumer::Hold(std::vector<TopicPartition> partitions) {
  held_ = std::move(partitions);
  next_offset_.clear();
  committed_unknown_ = !held_.empty();
}

void Consumer::FetchCommitted() {
  std::vector<RdKafka::TopicPartition*> wanted;
  for (const TopicPartition& tp : held_) {
    if (!next_offset_.contains({tp.topic, tp.partition}))
      wanted.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition));
  }
  if (wanted.empty()) return;
  RdKafka::ErrorCode err =
      consumer_->committed(wanted, static_cast<int>(absl::ToInt64Milliseconds(kCommittedTimeout)));
  if (err == RdKafka::ERR_NO_ERROR) {
    for (const RdKafka::TopicPartition* tp : wanted) {
      if (tp->err() != RdKafka::ERR_NO_ERROR) continue;
      next_offset_.try_emplace({tp->topic(), tp->partition()},
                               tp->offset() >= 0 ? tp->offset() : kFromLogStart);
    }
  }
  // On failure the first record polled from each partition gives its position instead.
  RdKafka::TopicPartition::destroy(wanted);
}

int64_t Consumer::Lag() {
  if (committed_unknown_) {
    committed_unknown_ = false;
    FetchCommitted();
  }
  int64_t lag = 0;
  for (const TopicPartition& tp : held_) {
    auto next = next_offset_.find({tp.topic, tp.partition});
    if (next == next_offset_.end()) continue;
    int64_t low = RdKafka::Topic::OFFSET_INVALID;
    int64_t high = RdKafka::Topic::OFFSET_INVALID;
    // The watermarks of the last fetch response: no request (rd_kafka_get_watermark_offsets).
    if (consumer_->get_watermark_offsets(tp.topic, tp.partition, &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    int64_t position = next->second == kFromLogStart ? low : next->second;
    // Records removed by retention cannot be behind: consumption resumes at the log start.
    if (low >= 0) position = std::max(position, low);
    if (position < 0) continue;
    lag += std::max<int64_t>(0, high - position);
  }
  return lag;
}

void Consumer::Close() {
  if (closed_ || !consumer_) return;
  closed_ = true;
  // A consumer of no group has nothing to commit.
  if (subscribed_) (void)CommitSync();
  consumer_->close();
}

}  // namespace meldpunt::kafka
