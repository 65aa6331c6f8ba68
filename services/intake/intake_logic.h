// The intake's rules, free of gRPC and Kafka: validate a submission or a command, make its event
// durable in the log, wait until the projection shows it (read-your-writes), answer queries.
// Depends only on EventLog, CaseStore and Clock.
//
//   IntakeLogic logic(event_log, store, clock, {.append_timeout = absl::Seconds(10)}, &watch);
//   absl::StatusOr<SubmitResult> r = logic.Submit(request, deadline);
//   absl::StatusOr<CommandResult> a = logic.Execute(*AcceptCommand(accept_request), deadline);
//
// Thread-safe: commands on one case are serialised by a striped mutex.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/catalog/catalog_file.h"
#include "libs/clock/clock.h"
#include "libs/events/event_log.h"
#include "libs/privacy/privacy.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "services/intake/case_store.h"
#include "services/intake/commands.h"
#include "services/intake/fold_watch.h"
#include "services/intake/hand_off.h"

namespace meldpunt::intake {

struct IntakeOptions {
  // Upper bound of waiting for Kafka's acknowledgement (the call's own deadline may be shorter).
  absl::Duration append_timeout = absl::Seconds(10);
  // Upper bound of waiting for the projection to show an appended event before answering.
  absl::Duration projection_wait = absl::Seconds(5);
  // How long a submission holds its request key while it is being appended.
  absl::Duration submission_lock = absl::Seconds(30);
  CommandRules rules;
  // The reporters' data keys: a submission's personal data is sealed with its case's key before
  // it is appended, and EraseReporterData destroys the key. Null: kept as sent (tests only).
  privacy::KeyStore* keys = nullptr;
  // True while the projection is rebuilt from the log (null: never): a case it does not hold then
  // may only not be folded again yet, so the answer is UNAVAILABLE ("retry"), not NOT_FOUND.
  std::function<bool()> rebuilding;
  // True when the projection is known to be incomplete (Redis lost it and the rebuild has not
  // finished, here or on another replica; or the live fold's writes are not confirmed by the
  // replica and it folds them again, as after a failover; null: never): the same UNAVAILABLE.
  // Asked only for a case the projection does not hold.
  std::function<bool()> incomplete;
  // The category catalogue: a new case's category must be in it and active. Null: categories are
  // checked as ids only (development).
  catalog::CatalogFile* catalog = nullptr;
  // Runs the steps of an asynchronous submission that wait for Redis: its start, off the gRPC
  // thread, and its finish, off the producer's poll thread (the app: a Completions pool). Null:
  // at once, on the thread that submits or reports the append.
  std::function<void(std::function<void()>)> defer;
};

struct SubmitResult {
  Case c;
  bool created = false;
};

using SubmitDone = std::function<void(absl::StatusOr<SubmitResult>)>;

struct CommandResult {
  Case c;
  std::string event_id;
};

class IntakeLogic {
 public:
  // `watch` (may be null) is told by this intake's projection consumer what it folded, so a call
  // waiting for read-your-writes wakes at once instead of polling Redis.
  IntakeLogic(events::EventLog& log, CaseStore& store, const clock::Clock& clock,
              IntakeOptions options, FoldWatch* watch = nullptr)
      : log_(log), store_(store), clock_(clock), options_(options), watch_(watch) {}

  // INVALID_ARGUMENT naming the field; UNAVAILABLE when the event is not durable by `deadline`
  // (a retry with the same request_key is safe). Repeating a request_key returns the first case.
  // `actor`: who submits, when it is not the submitting system itself (a team member who
  // registers a letter); empty: "system:<submitting_system>".
  // draft.received_at must not lie in the future nor further back than
  // rules.received_at_max_age (INVALID_ARGUMENT naming it); who may set it is the caller's check
  // (MaySetReceivedAt).
  absl::StatusOr<SubmitResult> Submit(v1::SubmitCaseRequest request, absl::Time deadline,
                                      const std::string& actor = "");
  // The same without holding the calling thread: it checks the request and queues it, then
  // returns; `done` runs once, with the answer. Bad input is answered at once, on this thread,
  // before any store is touched. The rest runs through `defer`, a batch at a time: a starter
  // takes every submission queued meanwhile, starts them all in one Redis round trip
  // (CaseStore::BeginAll: a known key is answered there), makes their data keys in one round
  // trip of the key store (KeyStore::KeysFor), seals the reporters and appends. Once Kafka
  // acknowledged them, a finisher writes the new cases to the projection in one more round trip
  // (CaseStore::CreateAll) and answers: no wait for the fold.
  void SubmitAsync(v1::SubmitCaseRequest request, absl::Time deadline, const std::string& actor,
                   SubmitDone done);
  // Whether a submitting system of the submitter role may set draft.received_at.
  bool MaySetReceivedAt(const std::string& submitting_system) const;
  // The catalogue in force (null without one).
  std::shared_ptr<const catalog::Catalog> Catalog() const {
    return options_.catalog == nullptr ? nullptr : options_.catalog->Current();
  }

  // Resolves the case (id or reference), checks the command against its state, appends the event
  // and answers with the case after it. A repeated command_id appends nothing and answers the same.
  absl::StatusOr<CommandResult> Execute(const Command& command, absl::Time deadline);
  // MergeCase: `command` from MergeCommand, master from the request.
  absl::StatusOr<CommandResult> Merge(Command command, const std::string& master_ref,
                                      absl::Time deadline);
  // Destroys the case's data key, then appends ReporterDataErased (key_destroyed says whether
  // this call destroyed it). FAILED_PRECONDITION without a key store.
  absl::StatusOr<CommandResult> Erase(Command command, absl::Time deadline);

  // NOT_FOUND for a case nobody submitted; UNAVAILABLE (retry) for a submitted case the
  // projection has not folded within projection_wait.
  absl::StatusOr<Case> Get(const std::string& case_ref);
  absl::StatusOr<std::vector<v1::HistoryEntry>> History(const std::string& case_ref,
                                                        std::string* case_id);
  absl::StatusOr<ListPage> List(const v1::ListCasesRequest& request);

  // The case id of an id or a reference. INVALID_ARGUMENT (naming `field`) for neither, or for a
  // reference whose check character does not match; NOT_FOUND for an unknown one.
  absl::StatusOr<std::string> Resolve(const std::string& case_ref,
                                      const std::string& field = "case_id");

 private:
  absl::Mutex& LockFor(const std::string& case_id);
  // NOT_FOUND with `message`, or UNAVAILABLE while the projection is rebuilt.
  absl::Status Missing(const std::string& message) const;
  // Appends and waits until the projection has folded it; the case after the event.
  absl::StatusOr<Case> AppendAndWait(const events::Envelope& envelope, const Case& before,
                                     absl::Time deadline);
  // A checked submission waiting for its start.
  struct Starting {
    v1::SubmitCaseRequest request;
    absl::Time deadline;
    std::string actor;
    SubmitDone done;
    std::string case_id;
    absl::Time now;
    std::string reference;  // this year's first choice, then the one reserved
  };
  // The request's own rules, without any store: INVALID_ARGUMENT naming the field.
  absl::Status Check(const v1::SubmitCaseRequest& request) const;
  // Starts what is queued until nothing is (StartAll for each batch).
  void StartQueued();
  // Starts a batch: the locks and references in one round trip, the data keys in another, each
  // new case sealed and appended; every other submission answered.
  void StartAll(std::vector<Starting>& batch);
  // The event of a new case (its reporter sealed with `keys`' key when given); the draft moves
  // out of the request.
  absl::StatusOr<events::Envelope> NewSubmission(Starting& s, privacy::KeyStore* keys);
  // A submission whose append was answered, waiting to be finished.
  struct Answered {
    std::shared_ptr<const events::Envelope> envelope;
    absl::StatusOr<events::Appended> appended;
    SubmitDone done;
  };
  // Queues it; a finisher (Defer) takes every submission answered meanwhile at once.
  void QueueFinish(Answered answered);
  // Finishes what is queued until nothing is: the new cases written in one round trip
  // (CaseStore::CreateAll), each caller answered.
  void FinishQueued();
  // After the append and the write: the answer (the case read when it was there already).
  absl::StatusOr<SubmitResult> FinishSubmission(const events::Envelope& envelope,
                                                absl::StatusOr<bool> created, Case c);
  // A concurrent call with the same key is appending it: its case once it shows.
  absl::StatusOr<SubmitResult> AwaitOtherSubmission(const std::string& case_id,
                                                    absl::Time deadline);
  void Defer(std::function<void()> work) const;
  absl::StatusOr<std::string> ReserveReference(const std::string& case_id, absl::Time now);
  // Whether a submission claimed this case's reference (this year or last).
  absl::StatusOr<bool> SubmissionSeen(const std::string& case_id);

  events::EventLog& log_;
  CaseStore& store_;
  const clock::Clock& clock_;
  IntakeOptions options_;
  FoldWatch* watch_;
  std::array<absl::Mutex, 64> stripes_;
  HandOff<Starting> starting_;
  HandOff<Answered> finishing_;
};

}  // namespace meldpunt::intake
