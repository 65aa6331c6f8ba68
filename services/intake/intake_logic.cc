#include "services/intake/intake_logic.h"

#include <algorithm>
#include <functional>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/calendar/calendar.h"
#include "libs/domain/case_state.h"
#include "libs/domain/validation.h"
#include "libs/events/ids.h"
#include "libs/grpc/status.h"
#include "libs/observability/log.h"
#include "libs/status/status_macros.h"

namespace meldpunt::intake {
namespace {

namespace t = ::meldpunt::types::v1;

// Polls `ready` until it holds or `deadline` passes; short waits first (the projection usually
// follows within milliseconds). With `waiter`, each wait ends as soon as this intake's projection
// reports the fold (then true), and `ready` is first asked after the first wait: it only finds
// what another replica folded.
absl::StatusOr<bool> PollUntil(const std::function<absl::StatusOr<bool>()>& ready,
                               absl::Time deadline, FoldWatch::Waiter* waiter = nullptr) {
  absl::Duration pause = absl::Milliseconds(waiter != nullptr ? 5 : 2);
  for (bool first = true;; first = false) {
    if (waiter == nullptr || !first) {
      ASSIGN_OR_RETURN(bool done, ready());
      if (done) return true;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline || (waiter == nullptr && now + pause > deadline)) return false;
    if (waiter != nullptr) {
      if (waiter->Wait(std::min(deadline, now + pause))) return true;
    } else {
      absl::SleepFor(pause);
    }
    pause = std::min(pause * 2, absl::Milliseconds(50));
  }
}

}  // namespace

absl::Status IntakeLogic::Missing(const std::string& message) const {
  if ((options_.rebuilding && options_.rebuilding()) ||
      (options_.incomplete && options_.incomplete())) {
    return absl::UnavailableError(
        absl::StrCat(message,
                     " in the projection, which is being rebuilt from the log or is catching up "
                     "after a Redis failover; retry"));
  }
  return absl::NotFoundError(message);
}

absl::Mutex& IntakeLogic::LockFor(const std::string& case_id) {
  return stripes_[std::hash<std::string>()(case_id) % stripes_.size()];
}

absl::StatusOr<std::string> IntakeLogic::Resolve(const std::string& case_ref,
                                                 const std::string& field) {
  if (events::IsCaseId(case_ref)) return case_ref;
  bool check_ok = false;
  const std::string reference = events::NormalizeReference(case_ref, &check_ok);
  if (reference.empty()) {
    return grpc_util::FieldError(
        field, "is neither a case id (MP-XXXXXXXXXXXXX) nor a reference (MP-YYYY-...)");
  }
  if (!check_ok) {
    return grpc_util::FieldError(field,
                                 "the reference's check character does not match: a typing error?");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> case_id, store_.ResolveReference(reference));
  if (!case_id) return Missing(absl::StrCat("no case with reference ", reference));
  return *case_id;
}

absl::StatusOr<std::string> IntakeLogic::ReserveReference(const std::string& case_id,
                                                          absl::Time now) {
  const int year = absl::ToCivilYear(now, calendar::BrusselsTimeZone()).year();
  // Two cases of one year share the first 8 characters about once in a lifetime: take more then.
  for (int length : {8, 10, 12}) {
    const std::string reference = events::ReferenceFor(case_id, year, length);
    ASSIGN_OR_RETURN(bool mine, store_.ClaimReference(reference, case_id));
    if (mine) return reference;
  }
  return absl::InternalError(absl::StrCat("no free reference for ", case_id));
}

absl::StatusOr<Case> IntakeLogic::AppendAndWait(const events::Envelope& envelope,
                                                const Case& before, absl::Time deadline) {
  // Registered before the append: this intake's projection may fold the event before the
  // acknowledgement reaches us.
  std::optional<FoldWatch::Waiter> waiter;
  if (watch_ != nullptr) waiter.emplace(*watch_, envelope.case_id(), envelope.event_id());
  const absl::Time append_deadline = std::min(deadline, absl::Now() + options_.append_timeout);
  ASSIGN_OR_RETURN(events::Appended appended, log_.Append(envelope, append_deadline));
  // The event is durable: the answer is OK from here on. Wait (bounded) until the projection has
  // folded it, so that the caller's next read shows it: told at once when this intake folded it,
  // found by polling Redis when another replica did.
  const absl::Time wait_deadline = std::min(deadline, absl::Now() + options_.projection_wait);
  absl::StatusOr<bool> caught_up = PollUntil(
      [&]() -> absl::StatusOr<bool> {
        ASSIGN_OR_RETURN(int64_t offset, store_.AppliedOffset(envelope.case_id()));
        if (offset >= appended.offset) return true;
        // A repeat of an event folded before (same id, new offset) is never folded again.
        return store_.HasEvent(envelope.case_id(), envelope.event_id());
      },
      wait_deadline, waiter ? &*waiter : nullptr);
  if (caught_up.ok() && *caught_up) {
    if (waiter) {
      if (std::optional<Case> folded = waiter->TakeFolded()) return *std::move(folded);
    }
    absl::StatusOr<std::optional<Case>> shown = store_.Get(envelope.case_id());
    if (shown.ok() && shown->has_value()) return **shown;
  }
  log::Warning("projection did not show the event in time; answering from the event itself",
               {{"case_id", envelope.case_id()}, {"event_id", envelope.event_id()}});
  Case after = before;
  if (absl::Status folded = domain::Apply(after, envelope); !folded.ok()) return folded;
  return after;
}

absl::StatusOr<SubmitResult> IntakeLogic::Submit(v1::SubmitCaseRequest request, absl::Time deadline,
                                                 const std::string& actor) {
  absl::Notification answered;
  absl::StatusOr<SubmitResult> result;
  SubmitAsync(std::move(request), deadline, actor, [&](absl::StatusOr<SubmitResult> r) {
    result = std::move(r);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void IntakeLogic::Defer(std::function<void()> work) const {
  if (options_.defer) return options_.defer(std::move(work));
  work();
}

void IntakeLogic::SubmitAsync(v1::SubmitCaseRequest request, absl::Time deadline,
                              const std::string& actor, SubmitDone done) {
  if (absl::Status checked = Check(request); !checked.ok()) return done(checked);
  Starting s;
  s.case_id = events::CaseIdFor(request.submitting_system(), request.request_key());
  s.now = clock_.Now();
  s.reference = events::ReferenceFor(
      s.case_id, absl::ToCivilYear(s.now, calendar::BrusselsTimeZone()).year(), 8);
  s.request = std::move(request);
  s.deadline = deadline;
  s.actor = actor;
  s.done = std::move(done);
  if (starting_.Push(std::move(s))) Defer([this] { StartQueued(); });
}

void IntakeLogic::StartQueued() {
  for (std::vector<Starting> batch; !(batch = starting_.Take()).empty();) StartAll(batch);
}

void IntakeLogic::StartAll(std::vector<Starting>& batch) {
  // The same key from the same system: the first case, and nothing new in the log. The locks and
  // the references of this year of the whole batch are taken in one round trip.
  std::vector<SubmissionKey> keys;
  keys.reserve(batch.size());
  for (const Starting& s : batch) keys.push_back({s.case_id, s.reference});
  std::vector<absl::StatusOr<SubmissionStart>> starts =
      store_.BeginAll(keys, options_.submission_lock);
  std::vector<Starting*> going;
  for (size_t i = 0; i < batch.size(); ++i) {
    Starting& s = batch[i];
    if (!starts[i].ok()) {
      s.done(starts[i].status());
    } else if (starts[i]->existing.has_value()) {
      s.done(SubmitResult{*std::move(starts[i]->existing), false});
    } else if (!starts[i]->locked) {
      // A concurrent call with the same key is appending it: answered once its case shows.
      Defer([this, case_id = s.case_id, deadline = s.deadline, done = std::move(s.done)] {
        done(AwaitOtherSubmission(case_id, deadline));
      });
    } else if (starts[i]->reference_mine) {
      going.push_back(&s);
    } else if (absl::StatusOr<std::string> reference = ReserveReference(s.case_id, s.now);
               reference.ok()) {
      s.reference = *std::move(reference);
      going.push_back(&s);
    } else {
      (void)store_.ReleaseSubmission(s.case_id);
      s.done(reference.status());
    }
  }
  if (going.empty()) return;
  // The personal data leaves this call only sealed with the case's own key: the keys of the
  // batch's new cases are made in one round trip of the key store.
  std::optional<privacy::BatchKeys> batch_keys;
  if (options_.keys != nullptr) {
    batch_keys.emplace(*options_.keys);
    std::vector<std::string> sealed;
    for (const Starting* s : going) {
      if (privacy::Sealer::NeedsKey(s->request.draft().reporter())) sealed.push_back(s->case_id);
    }
    batch_keys->Make(sealed);
  }
  for (Starting* s : going) {
    absl::StatusOr<events::Envelope> envelope =
        NewSubmission(*s, batch_keys ? &*batch_keys : nullptr);
    if (!envelope.ok()) {
      (void)store_.ReleaseSubmission(s->case_id);
      s->done(envelope.status());
      continue;
    }
    auto shared = std::make_shared<const events::Envelope>(*std::move(envelope));
    const absl::Time append_deadline = std::min(s->deadline, absl::Now() + options_.append_timeout);
    log_.AppendAsync(*shared, append_deadline,
                     [this, shared, done = std::move(s->done)](
                         absl::StatusOr<events::Appended> appended) mutable {
                       QueueFinish({shared, std::move(appended), std::move(done)});
                     });
  }
}

void IntakeLogic::QueueFinish(Answered answered) {
  if (finishing_.Push(std::move(answered))) Defer([this] { FinishQueued(); });
}

void IntakeLogic::FinishQueued() {
  for (std::vector<Answered> batch; !(batch = finishing_.Take()).empty();) {
    // The acknowledgements of one produce request come together: their cases go into the
    // projection in one round trip.
    std::vector<const events::Envelope*> durable;
    std::vector<size_t> of;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].appended.ok()) {
        durable.push_back(batch[i].envelope.get());
        of.push_back(i);
        continue;
      }
      (void)store_.ReleaseSubmission(batch[i].envelope->case_id());
      batch[i].done(batch[i].appended.status());
    }
    if (durable.empty()) continue;
    std::vector<Case> written;
    std::vector<absl::StatusOr<bool>> created = store_.CreateAll(durable, &written);
    for (size_t k = 0; k < of.size(); ++k) {
      Answered& a = batch[of[k]];
      a.done(FinishSubmission(*a.envelope, std::move(created[k]), std::move(written[k])));
    }
  }
}

absl::StatusOr<SubmitResult> IntakeLogic::AwaitOtherSubmission(const std::string& case_id,
                                                               absl::Time deadline) {
  std::optional<Case> shown;
  ASSIGN_OR_RETURN(bool appeared, PollUntil(
                                      [&]() -> absl::StatusOr<bool> {
                                        ASSIGN_OR_RETURN(shown, store_.Get(case_id));
                                        return shown.has_value();
                                      },
                                      deadline - absl::Milliseconds(50)));
  if (appeared) return SubmitResult{*std::move(shown), false};
  return absl::UnavailableError(
      "a submission with this request_key is still in progress; retry with the same key");
}

absl::StatusOr<SubmitResult> IntakeLogic::FinishSubmission(const events::Envelope& envelope,
                                                           absl::StatusOr<bool> created, Case c) {
  const std::string& case_id = envelope.case_id();
  // The event is durable: the answer is OK from here on. The case went into the projection
  // (CreateAll), so the caller's next read shows it; the fold will find the event's id and drop
  // it.
  if (created.ok() && !*created) {
    // Folded from the log already (or by a retry of this submission that lost its answer).
    absl::StatusOr<std::optional<Case>> shown = store_.Get(case_id);
    if (shown.ok() && shown->has_value()) {
      c = **std::move(shown);
      created = true;
    }
  }
  if (!created.ok() || !*created) {
    // Held while a rebuild clears the projection: expected, and its replay folds the case (a
    // read answers "retry" until then, IntakeOptions::rebuilding). Anything else is worth a line.
    const bool held = !created.ok() && created.status().message() == kCreateHeldText;
    if (!held)
      log::Warning("the new case could not be written to the projection; answering from the event",
                   {{"case_id", case_id},
                    {"event_id", envelope.event_id()},
                    {"error", created.ok() ? "not readable" : created.status().ToString()}});
    c = Case();
    RETURN_IF_ERROR(domain::Apply(c, envelope));
  }
  log::Info("case submitted", {{"case_id", case_id},
                               {"reference", envelope.case_submitted().reference()},
                               {"trace_id", envelope.correlation_id()}});
  return SubmitResult{std::move(c), true};
}

absl::Status IntakeLogic::Check(const v1::SubmitCaseRequest& request) const {
  RETURN_IF_ERROR(domain::ValidateSubmission(request.submitting_system(), request.request_key(),
                                             request.draft()));
  if (request.correlation_id().size() > 128) {
    return grpc_util::FieldError("correlation_id", "must be at most 128 characters");
  }
  if (std::shared_ptr<const catalog::Catalog> categories = Catalog()) {
    const catalog::Category* category = categories->Find(request.draft().category());
    if (category == nullptr) {
      return grpc_util::FieldError(
          "draft.category", absl::StrCat("'", request.draft().category(),
                                         "' is not in the category catalogue (GetCategories)"));
    }
    if (!category->active) {
      return grpc_util::FieldError("draft.category",
                                   absl::StrCat("'", category->id, "' is no longer in use"));
    }
  }
  if (request.draft().has_received_at()) {
    const absl::Time received = events::GetTime(request.draft().received_at());
    const absl::Time now = clock_.Now();
    if (received > now + CommandRules::kReceivedAtSkew) {
      return grpc_util::FieldError("draft.received_at", "lies in the future");
    }
    if (received < now - options_.rules.received_at_max_age) {
      return grpc_util::FieldError(
          "draft.received_at",
          absl::StrCat("lies more than ",
                       absl::ToInt64Hours(options_.rules.received_at_max_age) / 24,
                       " days back (intake cases.received_at_max_age)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<events::Envelope> IntakeLogic::NewSubmission(Starting& s, privacy::KeyStore* keys) {
  const v1::SubmitCaseRequest& request = s.request;
  events::Envelope envelope = events::NewEnvelope(s.case_id, "intake", s.now);
  envelope.set_correlation_id(request.correlation_id().empty() ? events::RandomId("trace")
                                                               : request.correlation_id());
  envelope.mutable_actor()->set_id(
      s.actor.empty() ? absl::StrCat("system:", request.submitting_system()) : s.actor);
  auto* submitted = envelope.mutable_case_submitted();
  *submitted->mutable_draft() = std::move(*s.request.mutable_draft());
  if (keys != nullptr) {
    if (absl::Status sealed = privacy::Sealer(*keys).SealReporter(
            s.case_id, submitted->mutable_draft()->mutable_reporter());
        !sealed.ok()) {
      if (absl::IsInvalidArgument(sealed)) return sealed;
      return absl::UnavailableError(
          absl::StrCat("the key store did not answer: ", sealed.message(), "; retry"));
    }
  }
  submitted->set_submitting_system(request.submitting_system());
  submitted->set_request_key(request.request_key());
  submitted->set_reference(s.reference);
  // Deterministic: a retry after a lost answer appends the same event id, which consumers drop.
  events::Finish(envelope, events::DeterministicId("submitted", {s.case_id}));
  return envelope;
}

bool IntakeLogic::MaySetReceivedAt(const std::string& submitting_system) const {
  for (const std::string& s : options_.rules.received_at_systems) {
    if (s == submitting_system) return true;
  }
  return false;
}

absl::StatusOr<CommandResult> IntakeLogic::Erase(Command command, absl::Time deadline) {
  if (options_.keys == nullptr) {
    return absl::FailedPreconditionError("this intake has no key store (privacy.key_store)");
  }
  ASSIGN_OR_RETURN(std::string case_id, Resolve(command.case_ref));
  ASSIGN_OR_RETURN(std::optional<Case> current, store_.Get(case_id));
  if (!current) return Missing(absl::StrCat("case ", case_id, " not found"));
  // The key first: once it is gone the person is erased from every copy, whatever happens to
  // the event (a retry appends it).
  absl::StatusOr<bool> destroyed = options_.keys->Destroy(case_id);
  if (!destroyed.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the key store did not answer: ", destroyed.status().message(), "; retry"));
  }
  auto fill = command.payload;
  command.payload = [fill, destroyed = *destroyed](events::Envelope& e) {
    fill(e);
    e.mutable_reporter_data_erased()->set_key_destroyed(destroyed);
  };
  log::Warning(
      "reporter's personal data erased",
      {{"case_id", case_id}, {"key_destroyed", *destroyed}, {"actor", command.actor.id()}});
  return Execute(command, deadline);
}

absl::StatusOr<CommandResult> IntakeLogic::Execute(const Command& command, absl::Time deadline) {
  ASSIGN_OR_RETURN(std::string case_id, Resolve(command.case_ref));
  absl::MutexLock lock(&LockFor(case_id));
  ASSIGN_OR_RETURN(std::optional<Case> current, store_.Get(case_id));
  if (!current) return Missing(absl::StrCat("case ", case_id, " not found"));

  const std::string event_id =
      command.command_id.empty()
          ? events::RandomId("ev")
          : events::DeterministicId("command", {case_id, command.name, command.command_id});
  if (!command.command_id.empty()) {
    ASSIGN_OR_RETURN(bool done, store_.HasEvent(case_id, event_id));
    if (done) return CommandResult{*std::move(current), event_id};
  }
  const absl::Time now = clock_.Now();
  events::Envelope envelope = events::NewEnvelope(case_id, "intake", now);
  *envelope.mutable_actor() = command.actor;
  command.payload(envelope);
  // The department acting is the one the case is with.
  if (envelope.has_case_accepted())
    envelope.mutable_case_accepted()->set_department(current->department());
  if (envelope.has_case_bounced())
    envelope.mutable_case_bounced()->set_department(current->department());
  if (envelope.has_priority_changed())
    envelope.mutable_priority_changed()->set_previous(current->priority());
  events::Finish(envelope, event_id);
  RETURN_IF_ERROR(domain::Check(*current, envelope));
  RETURN_IF_ERROR(command.check(*current, now));
  ASSIGN_OR_RETURN(Case after, AppendAndWait(envelope, *current, deadline));
  log::Info("case command", {{"case_id", case_id},
                             {"command", command.name},
                             {"actor", command.actor.id()},
                             {"event_id", event_id}});
  return CommandResult{std::move(after), event_id};
}

absl::StatusOr<CommandResult> IntakeLogic::Merge(Command command, const std::string& master_ref,
                                                 absl::Time deadline) {
  ASSIGN_OR_RETURN(std::string master_id, Resolve(master_ref, "master_case_id"));
  ASSIGN_OR_RETURN(std::string case_id, Resolve(command.case_ref));
  if (master_id == case_id) {
    return grpc_util::FieldError("master_case_id", "a case cannot be merged into itself");
  }
  ASSIGN_OR_RETURN(std::optional<Case> master, store_.Get(master_id));
  if (!master) return absl::NotFoundError(absl::StrCat("master case ", master_id, " not found"));
  if (!domain::IsOpen(master->state())) {
    return absl::FailedPreconditionError(absl::StrCat("master case ", master_id, " is ",
                                                      domain::StateName(master->state()),
                                                      "; merge into an open case"));
  }
  // The reference goes with the id: the reporter's letter names the master by it.
  command.payload = [master_id, reference = master->reference()](events::Envelope& e) {
    e.mutable_case_merged()->set_master_case_id(master_id);
    e.mutable_case_merged()->set_master_reference(reference);
  };
  return Execute(command, deadline);
}

absl::StatusOr<Case> IntakeLogic::Get(const std::string& case_ref) {
  ASSIGN_OR_RETURN(std::string case_id, Resolve(case_ref));
  ASSIGN_OR_RETURN(std::optional<Case> c, store_.Get(case_id));
  if (c.has_value()) return *std::move(c);
  // Read-your-writes when the projection lags (SubmitCase answered from the event itself because
  // the caller's deadline ran out): a case whose reference was claimed by a submission is
  // waited for, and if it still does not show, the answer is "retry", never NOT_FOUND.
  ASSIGN_OR_RETURN(bool submitted, SubmissionSeen(case_id));
  if (!submitted) return Missing(absl::StrCat("case ", case_id, " not found"));
  ASSIGN_OR_RETURN(bool shown, PollUntil(
                                   [&]() -> absl::StatusOr<bool> {
                                     ASSIGN_OR_RETURN(c, store_.Get(case_id));
                                     return c.has_value();
                                   },
                                   absl::Now() + options_.projection_wait));
  if (shown) return *std::move(c);
  return absl::UnavailableError(
      absl::StrCat("case ", case_id, " was submitted and is not readable yet; retry"));
}

absl::StatusOr<bool> IntakeLogic::SubmissionSeen(const std::string& case_id) {
  // Submit claims the case's reference (of the year it came in) before it appends.
  const int year = absl::ToCivilYear(clock_.Now(), calendar::BrusselsTimeZone()).year();
  for (int y : {year, year - 1}) {
    for (int length : {8, 10, 12}) {
      ASSIGN_OR_RETURN(std::optional<std::string> owner,
                       store_.ResolveReference(events::ReferenceFor(case_id, y, length)));
      if (owner == case_id) return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<v1::HistoryEntry>> IntakeLogic::History(const std::string& case_ref,
                                                                   std::string* case_id) {
  ASSIGN_OR_RETURN(*case_id, Resolve(case_ref));
  ASSIGN_OR_RETURN(std::vector<v1::HistoryEntry> entries, store_.History(*case_id));
  if (entries.empty()) return Missing(absl::StrCat("case ", *case_id, " not found"));
  return entries;
}

absl::StatusOr<ListPage> IntakeLogic::List(const v1::ListCasesRequest& request) {
  ListQuery query;
  if (!t::CaseKind_IsValid(request.kind())) return grpc_util::FieldError("kind", "unknown kind");
  if (!t::CaseState_IsValid(request.state()))
    return grpc_util::FieldError("state", "unknown state");
  query.kind = request.kind();
  query.state = request.state();
  if (request.department().size() > 64) return grpc_util::FieldError("department", "too long");
  if (request.category().size() > 64) return grpc_util::FieldError("category", "too long");
  query.department = request.department();
  query.category = request.category();
  query.overdue = request.overdue();
  if (request.has_submitted_from())
    query.submitted_from = events::GetTime(request.submitted_from());
  if (request.has_submitted_to()) query.submitted_to = events::GetTime(request.submitted_to());
  if (query.submitted_from && query.submitted_to && *query.submitted_to <= *query.submitted_from) {
    return grpc_util::FieldError("submitted_to", "must be after submitted_from");
  }
  if (request.submitting_system().size() > 64) {
    return grpc_util::FieldError("submitting_system", "too long");
  }
  query.submitting_system = request.submitting_system();
  if (!v1::OpenFilter_IsValid(request.open_filter())) {
    return grpc_util::FieldError("open_filter", "unknown filter");
  }
  query.open_filter = request.open_filter();
  if (request.has_updated_from()) query.updated_from = events::GetTime(request.updated_from());
  if (request.has_updated_to()) query.updated_to = events::GetTime(request.updated_to());
  if (query.updated_from && query.updated_to && *query.updated_to <= *query.updated_from) {
    return grpc_util::FieldError("updated_to", "must be after updated_from");
  }
  if (request.categories_size() > 50) {
    return grpc_util::FieldError("categories", "at most 50");
  }
  for (const std::string& category : request.categories()) {
    if (category.empty() || category.size() > 64) {
      return grpc_util::FieldError("categories", "each must be 1-64 characters");
    }
    query.categories.push_back(category);
  }
  if (request.page_size() < 0 || request.page_size() > 200) {
    return grpc_util::FieldError("page_size", "must be between 1 and 200 (0: the default, 50)");
  }
  query.page_size = request.page_size() == 0 ? 50 : request.page_size();
  if (!request.page_token().empty()) {
    std::string token;
    if (!absl::WebSafeBase64Unescape(request.page_token(), &token) || token.size() != 37 ||
        token[20] != '|' || !events::IsCaseId(token.substr(21))) {
      return grpc_util::FieldError("page_token", "is not a token this service gave out");
    }
    query.page_token = token;
  }
  ASSIGN_OR_RETURN(ListPage page, store_.List(query));
  if (!page.next_page_token.empty()) {
    page.next_page_token = absl::WebSafeBase64Escape(page.next_page_token);
  }
  return page;
}

}  // namespace meldpunt::intake
