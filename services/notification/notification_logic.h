// What notification does. The consumer side (Handle) turns a case event into messages by the
// rules (who, which letter, which channel), renders them in the recipient's language and puts
// them in the outbox, once per idempotency key. The sending side (Attempt) sends one claimed
// message: delivered -> NotificationDelivered on the case log; a failure worth retrying ->
// scheduled again with exponential backoff and jitter (in Redis: no thread sleeps), for
// retry_for; a temporary failure after retry_for, or a permanent one (the sender says which,
// delivery_error.h) -> a record on the dead-letter topic and NotificationFailed on the case log.
// Free of Kafka, Redis, SMTP and HTTP: it works through EventLog, DeliveryStore, Mailer, a webhook
// function and Clock.
//
//   RETURN_IF_ERROR(logic.Handle(envelope, record.partition));
//   for (v1::Job& job : store.Claim(partition, now, lease, 10)) logic.Attempt(job);
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "libs/events/codec.h"
#include "libs/events/event_log.h"
#include "libs/privacy/privacy.h"
#include "services/notification/delivery_store.h"
#include "services/notification/mailer.h"
#include "services/notification/outcomes_ahead.h"
#include "services/notification/rules.h"
#include "services/notification/templates.h"
#include "services/notification/webhook.h"

namespace meldpunt::notification {

// Where a citizen can go after the municipality's answer or an inadmissibility decision (the
// second line): named in every complaint answer and inadmissibility letter. The defaults are the
// Vlaamse Ombudsdienst's; a municipality with its own ombudsman configures that one.
struct SecondLine {
  std::string name = "Vlaamse Ombudsdienst";
  std::string address = "Leuvenseweg 48, 1000 Brussel";
  std::string website = "https://www.vlaamseombudsdienst.be";
  std::string email = "klachten@vlaamseombudsdienst.be";
  std::string phone = "1700";
};

struct NotificationOptions {
  // A bound on the attempts of one round besides retry_for; 0: none (the service sets none).
  int max_attempts = 0;
  absl::Duration first_backoff = absl::Seconds(2);
  // Backoff doubles up to this; a webhook's Retry-After is honoured up to this too.
  absl::Duration max_backoff = absl::Minutes(10);
  // How long temporary failures are retried, from when the message was queued (or retried by
  // hand); the last attempt is made when this has passed. Permanent failures are not retried.
  absl::Duration retry_for = absl::Hours(24);
  // Days until the answer is due, per case kind name (REPORT, COMPLAINT, ...), for the letter.
  std::map<std::string, int64_t> answer_days;
  // Messages in flight to one host at most; more wait (not counted as an attempt), so a slow
  // endpoint never takes every sender.
  int max_in_flight_per_host = 2;
  // Opens the reporter's sealed personal data (the address, the name in the letter). Null: the
  // submission is used as stored (tests).
  const privacy::Sealer* sealer = nullptr;
  // Seals what a message to the reporter sends (address, letter) with the case's data key while
  // it waits in the outbox, so that erasing the key erases it there too; the store `sealer`
  // opens with. Null: kept in clear until delivered (tests).
  privacy::KeyStore* keys = nullptr;
  // Category labels in the letter's language. Null: no catalogue (development only): letters to
  // the reporter then name no category, staff letters its id.
  catalog::CatalogFile* catalog = nullptr;
  SecondLine second_line;
};

using WebhookSend = std::function<absl::Status(const WebhookTarget&, const WebhookMessage&)>;

// What happened to one attempt (for metrics and logs).
struct AttemptOutcome {
  std::string status;          // delivered | retrying | dead_lettered | deferred | skipped
  absl::Duration since_event;  // from the case event to now (delivered only)
};

// An attempt made (NotificationLogic::Send), with what is left to record of it.
struct Attempted {
  enum class Left {
    kNothing,  // recorded already (retrying, deferred, dead-lettered, cancelled)
    kFinish,   // out of the queue (a cancelled message)
    kAppend,   // its NotificationDelivered, then out of the queue (delivered before a crash)
    kSave,     // delivered now: its record, its NotificationDelivered, out of the queue
  };
  v1::Job job;
  AttemptOutcome outcome;
  Left left = Left::kNothing;
};

// A claimed message's data key, read before its attempt together with those of the other
// messages of its claim (NotificationLogic::ReadKeys: one round trip, not one a message). `key`
// nullopt: the store had none (erased). Send uses it only while it is fresh (kFreshKey); a message
// that waited longer reads its key again, so that an erasure stops it as before.
struct KnownKey {
  std::optional<std::string> key;
  absl::Time read_at;
};
inline constexpr absl::Duration kFreshKey = absl::Seconds(1);

class NotificationLogic {
 public:
  NotificationLogic(const Templates& templates, const NotificationRules& rules, Mailer& mailer,
                    WebhookSend webhook, DeliveryStore& store, events::EventLog& case_log,
                    events::EventLog& dead_letters, const clock::Clock& clock,
                    NotificationOptions options)
      : templates_(templates),
        rules_(rules),
        mailer_(mailer),
        webhook_(std::move(webhook)),
        store_(store),
        case_log_(case_log),
        dead_letters_(dead_letters),
        clock_(clock),
        options_(std::move(options)) {}

  // Consumer side: queues the messages `envelope` calls for. Idempotent. ReporterDataErased
  // redacts every message of the case and cancels those to the reporter that have not gone yet
  // (NotificationFailed "cancelled: the reporter's data was erased", not dead-lettered).
  absl::Status Handle(const events::Envelope& envelope, int32_t partition);
  // The same, reading and writing the outbox through `store` (a batch's BufferedDeliveryStore
  // over this logic's store) instead of the logic's own, and the data keys through `keys` (a
  // batch's privacy::BatchKeys over keys(); null: keys() itself). ReporterDataErased works on the
  // logic's own store: a batch sends what it holds first.
  // With `ahead` (a rebuild's, and the offset of `envelope` in its partition): a message whose
  // delivery the log holds further on is made at once as its final record (the outcomes applied,
  // nothing filled, rendered or sealed, nothing queued) through DeliveryStore::AddFinished.
  struct Ahead {
    OutcomesAhead* outcomes = nullptr;
    int64_t offset = -1;
  };
  absl::Status Handle(const events::Envelope& envelope, int32_t partition, DeliveryStore& store,
                      privacy::KeyStore* keys, const Ahead* ahead = nullptr);
  // Whether Handle reads or writes what the store keeps of the case (its submission, its
  // department): false for an event that no rule can match and that changes nothing here (a
  // clock event, a delivery, a firing no rule names), which a batch need not read the case for.
  static bool ReadsCase(const events::Envelope& envelope);
  // The payloads (envelope field numbers) nothing here reads whatever they hold, neither Handle
  // nor a rebuild: the clocks' records (ClockStarted, ClocksStarted, ClockStopped). The outbox
  // rebuild's replay reads them without decoding them (service::ReplayCaseLog's pass_over).
  static const std::vector<int>& UnreadPayloads();
  // The store Handle(envelope, partition) reads and writes.
  DeliveryStore& store() const { return store_; }
  // The data keys it seals and opens with (NotificationOptions::keys; null: none).
  privacy::KeyStore* keys() const { return options_.keys; }

  // Rebuilding the outbox and the delivery records from the log after Redis lost them:
  //   logic.Hold();                                   // new messages wait, not due
  //   ReplayCaseLog(..., logic.Restore(e, partition)) // every event, in log order (the
  //                                                   // rebuild does it a run at a time:
  //                                                   // OutboxRebuild::FoldRun)
  //   logic.Release();                                // what has no outcome on the log goes
  // While held, every message queued (by the replay or the live consumer) is scheduled far in
  // the future and remembered; Restore marks a message whose NotificationDelivered or
  // dead-lettered NotificationFailed it meets as such and takes it out of the queue; Release
  // makes the rest due now. Returns how many it released.
  void Hold();
  absl::Status Restore(const events::Envelope& envelope, int32_t partition);
  absl::StatusOr<int64_t> Release();
  // The outcome events Restore applies to a message (NotificationDelivered, and a dead-lettered
  // NotificationFailed): the message's idempotency key, or nullopt for any other event.
  static std::optional<std::string> OutcomeKey(const events::Envelope& envelope);
  // What such an event makes of the message's record (Restore then finishes it).
  static void ApplyOutcome(const events::Envelope& envelope, v1::Job& job);
  static void ApplyOutcome(const KnownOutcome& outcome, v1::Job& job);

  // Sending side: one attempt at a claimed message (Send, then Record of it alone).
  absl::StatusOr<AttemptOutcome> Attempt(v1::Job job);
  // The attempt in two steps, so that the senders record many attempts at once. Send makes the
  // attempt and does what an outcome other than "delivered" needs (a retry scheduled, a dead
  // letter, a cancellation); Record then records many delivered messages at once: their records
  // saved in one Redis round trip (before their events: a repeat sends nothing again), their
  // NotificationDelivered appended together and waited for once, and the messages taken out of the
  // queue in one more round trip. A message whose recording failed goes again after its lease (it
  // is sent no more: its record says delivered). Record is for one thread at a time.
  // `known`: its data key as ReadKeys read it (nullopt: Send reads it).
  absl::StatusOr<Attempted> Send(v1::Job job, const std::optional<KnownKey>& known = std::nullopt);
  // The data keys of the sealed messages among `jobs`, read at once, in their order (nullopt for a
  // message with nothing sealed, or for all when the read failed: Send then reads its own).
  std::vector<std::optional<KnownKey>> ReadKeys(const std::vector<v1::Job>& jobs) const;
  std::vector<absl::StatusOr<AttemptOutcome>> Record(std::vector<Attempted> attempted);

  // Puts a failed or dead-lettered message back in the queue, due now, with a fresh round of
  // attempts. NOT_FOUND, or FAILED_PRECONDITION when it was delivered.
  absl::StatusOr<v1::Delivery> Retry(const std::string& case_id, const std::string& key);

  // The values a letter about the case is rendered with (its submission and department), plus
  // those the event gives. Only a letter `for_reporter` gets the reporter's name; a letter to
  // staff about a confidential case gets no content (description, location, category).
  absl::StatusOr<std::map<std::string, std::string>> Values(const std::string& case_id,
                                                            const events::Envelope* event,
                                                            const std::string& language,
                                                            bool for_reporter);

 private:
  absl::Status Queue(DeliveryStore& store, const Rule& rule, const events::Envelope& e,
                     int32_t partition, const events::Envelope& submitted,
                     const std::string& department, privacy::KeyStore* keys, const Ahead* ahead);
  // Opens the sealed reporter with the keys of `keys` (null: the sealer's own).
  absl::Status OpenReporter(events::Envelope& submitted, privacy::KeyStore* keys = nullptr) const;
  // The category's label in `lang`; never an id in a letter to the reporter.
  std::string CategoryLabel(const std::string& id, const std::string& lang,
                            bool for_reporter) const;
  absl::StatusOr<std::map<std::string, std::string>> Fill(
      DeliveryStore& store, const std::string& case_id, const events::Envelope* submitted,
      const std::string& department, const events::Envelope* event, const std::string& language,
      bool for_reporter);
  // ReporterDataErased: the stored submission loses its sealed reporter, every message to the
  // reporter its address and letter, and those still waiting are cancelled.
  absl::Status Erase(const events::Envelope& erased);
  // What `job` sends: opened from `job.sealed` (NOT_FOUND once the data key is gone) with `known`
  // while it is fresh, else with the key read now; or the clear fields.
  absl::StatusOr<v1::Letter> LetterOf(const v1::Job& job,
                                      const std::optional<KnownKey>& known) const;
  // A message to the reporter that will not go: recorded as NotificationFailed (not
  // dead-lettered), redacted, out of the queue.
  absl::Status Cancel(v1::Job& job);
  absl::Status AppendOutcome(const v1::Job& job, bool delivered);
  // The NotificationDelivered of a delivered message (deterministic id from its key).
  events::Envelope DeliveredEvent(const v1::Job& job) const;
  absl::Duration Backoff(int attempts);
  std::string HostOf(const std::string& channel, const std::string& url) const;

  const Templates& templates_;
  const NotificationRules& rules_;
  Mailer& mailer_;
  WebhookSend webhook_;
  DeliveryStore& store_;
  events::EventLog& case_log_;
  events::EventLog& dead_letters_;
  const clock::Clock& clock_;
  NotificationOptions options_;
  absl::Mutex mu_;
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);  // host -> messages being sent
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<std::string, std::string>> held_ ABSL_GUARDED_BY(mu_);  // case, key
};

std::string LanguageCode(types::v1::Language language);

// The log line of a message put in the outbox.
void LogQueued(const v1::Job& job);

// Where a message went, without the address: "e***@example.org" for an e-mail address, the scheme
// and host of a webhook URL.
std::string RecipientHint(const std::string& channel, const std::string& address);

// What stands for the recipient's address in an error text.
inline constexpr char kScrubbedRecipient[] = "<recipient>";
// `text` with every occurrence of `address`, in any letter case, replaced by kScrubbedRecipient:
// a mail server's reply may quote the address, and the error goes to the case log.
std::string ScrubAddress(std::string text, const std::string& address);

// The job without what it sent (address, subject, body, payload, sealed letter): what a delivered,
// dead-lettered or cancelled message keeps. `erased`: the recipient hint of a message to the
// reporter goes too.
void Redact(v1::Job& job, bool erased = false);

}  // namespace meldpunt::notification
