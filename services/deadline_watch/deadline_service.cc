#include "services/deadline_watch/deadline_service.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "libs/grpc/status.h"
#include "libs/grpc/trace.h"

namespace meldpunt::deadline {

grpc::Status DeadlineService::GetCaseClocks(grpc::ServerContext* context,
                                            const v1::GetCaseClocksRequest* request,
                                            v1::GetCaseClocksResponse* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kGetCaseClocks);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  if (!events::IsCaseId(request->case_id())) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("case_id", "is not a case id"));
  }
  absl::StatusOr<std::vector<v1::Clock>> clocks = store_.Clocks(request->case_id());
  if (!clocks.ok()) return grpc_util::ToGrpcStatus(clocks.status());
  for (auto& clock : *clocks) *response->add_clocks() = std::move(clock);
  return grpc::Status::OK;
}

grpc::Status DeadlineService::ListDeadlines(grpc::ServerContext* context,
                                            const v1::ListDeadlinesRequest* request,
                                            v1::ListDeadlinesResponse* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kListDeadlines);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  if (request->page_size() < 0 || request->page_size() > 500) {
    return grpc_util::ToGrpcStatus(
        grpc_util::FieldError("page_size", "must be between 1 and 500 (0: 100)"));
  }
  if (request->department().size() > 64 || request->kind().size() > 32) {
    return grpc_util::ToGrpcStatus(
        grpc_util::FieldError(request->kind().size() > 32 ? "kind" : "department", "too long"));
  }
  DeadlineQuery query;
  if (request->has_due_before()) query.due_before = events::GetTime(request->due_before());
  query.breached_only = request->breached_only();
  query.department = request->department();
  query.kind = request->kind();
  query.page_size = request->page_size() == 0 ? 100 : request->page_size();
  if (!request->page_token().empty() &&
      !absl::WebSafeBase64Unescape(request->page_token(), &query.page_token)) {
    return grpc_util::ToGrpcStatus(
        grpc_util::FieldError("page_token", "is not a token this service gave out"));
  }
  absl::StatusOr<DeadlinePage> page = store_.ListDeadlines(query);
  if (!page.ok()) {
    if (page.status().code() == absl::StatusCode::kInvalidArgument) {
      return grpc_util::ToGrpcStatus(
          grpc_util::FieldError("page_token", "is not a token this service gave out"));
    }
    return grpc_util::ToGrpcStatus(page.status());
  }
  for (auto& clock : page->clocks) *response->add_clocks() = std::move(clock);
  if (!page->next_page_token.empty())
    response->set_next_page_token(absl::WebSafeBase64Escape(page->next_page_token));
  return grpc::Status::OK;
}

grpc::Status DeadlineService::RebuildTimers(grpc::ServerContext* context,
                                            const v1::RebuildTimersRequest*,
                                            v1::RebuildTimersResponse* response) {
  if (absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kRebuildTimers);
      !who.ok()) {
    return grpc_util::ToGrpcStatus(who.status());
  }
  absl::StatusOr<int64_t> events = rebuild_();
  if (!events.ok()) return grpc_util::ToGrpcStatus(events.status());
  response->set_events(*events);
  return grpc::Status::OK;
}

grpc::Status DeadlineService::WatchDeadlines(grpc::ServerContext* context,
                                             const v1::WatchDeadlinesRequest* request,
                                             grpc::ServerWriter<v1::DeadlineAlert>* writer) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(*context, auth::methods::kWatchDeadlines);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  if (request->department().size() > 64) {
    return grpc_util::ToGrpcStatus(grpc_util::FieldError("department", "too long"));
  }
  if (!request->kind().empty()) {
    types::v1::CaseKind kind;
    if (!types::v1::CaseKind_Parse(request->kind(), &kind) ||
        kind == types::v1::CASE_KIND_UNSPECIFIED) {
      return grpc_util::ToGrpcStatus(grpc_util::FieldError(
          "kind", "must be a case kind: COMPLAINT, REPORT, QUESTION, SUGGESTION or COMPLIMENT"));
    }
  }
  // One caller cannot take every stream of the replica.
  absl::StatusOr<auth::CallerLimit::Ticket> ticket = streams_.Acquire(*who);
  if (!ticket.ok()) return grpc_util::ToGrpcStatus(ticket.status());
  absl::StatusOr<std::shared_ptr<AlertHub::Subscription>> sub =
      alerts_.Subscribe({request->department(), request->kind()});
  if (!sub.ok()) return grpc_util::ToGrpcStatus(sub.status());
  struct Leave {
    AlertHub& hub;
    std::shared_ptr<AlertHub::Subscription> sub;
    ~Leave() { hub.Unsubscribe(sub); }
  } leave{alerts_, *sub};
  // Headers go out at once, so a client knows it is subscribed before the first alert.
  writer->SendInitialMetadata();
  while (!context->IsCancelled()) {
    std::optional<v1::DeadlineAlert> alert = (*sub)->Next(absl::Milliseconds(500));
    if (!alert) {
      if (alerts_.closed()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
      continue;
    }
    if (!writer->Write(*alert)) break;  // the client went away
  }
  return grpc::Status::OK;
}

namespace {

// The call's deadline, at most 30 s away: how long a change waits for the consumer.
absl::Time WaitUntil(const grpc::ServerContext& context) {
  const absl::Time cap = absl::Now() + absl::Seconds(30);
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return cap;
  return std::min(cap, absl::FromChrono(deadline) - absl::Milliseconds(200));
}

const v1::ClockChange* ChangeIn(const v1::Clock& clock, const std::string& event_id) {
  for (const v1::ClockChange& c : clock.changes())
    if (c.event_id() == event_id) return &c;
  return nullptr;
}

}  // namespace

grpc::Status DeadlineService::Change(grpc::ServerContext& context, absl::string_view method,
                                     ClockCommand command, v1::ChangeClockResponse& response) {
  absl::StatusOr<auth::Principal> who = guard_.Admit(context, method);
  if (!who.ok()) return grpc_util::ToGrpcStatus(who.status());
  // The actor is who authenticated, never what a request says of itself.
  command.actor.set_id(auth::ActorId(*who));
  absl::StatusOr<PlannedChange> plan = logic_.Plan(command);
  if (!plan.ok()) return grpc_util::ToGrpcStatus(plan.status());
  if (!plan->done) {
    if (absl::Status appended = append_({plan->event}); !appended.ok()) {
      return grpc_util::ToGrpcStatus(absl::UnavailableError(
          absl::StrCat("the change could not be written to the case log: ", appended.message(),
                       "; repeat with the same command_id")));
    }
  }
  response.set_event_id(plan->event_id);
  // Applied by the consumer of the case's partition, here or on another replica.
  const absl::Time until = WaitUntil(context);
  v1::Clock clock = plan->clock;
  const v1::ClockChange* change = ChangeIn(clock, plan->event_id);
  while (change == nullptr) {
    if (absl::Now() >= until || context.IsCancelled()) {
      return grpc_util::ToGrpcStatus(absl::UnavailableError(absl::StrCat(
          "the change is on the case log (event ", plan->event_id,
          ") and not applied yet; repeat with the same command_id to learn its outcome")));
    }
    absl::SleepFor(absl::Milliseconds(20));
    absl::StatusOr<std::vector<v1::Clock>> clocks = store_.Clocks(command.case_id);
    if (!clocks.ok()) continue;  // Redis may come back before the deadline
    for (const v1::Clock& c : *clocks)
      if (c.name() == command.clock) clock = c;
    change = ChangeIn(clock, plan->event_id);
  }
  if (!change->refused().empty()) {
    return grpc_util::ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("the change was not applied: ", change->refused())));
  }
  *response.mutable_clock() = std::move(clock);
  return grpc::Status::OK;
}

grpc::Status DeadlineService::ExtendClock(grpc::ServerContext* context,
                                          const v1::ExtendClockRequest* request,
                                          v1::ChangeClockResponse* response) {
  ClockCommand command;
  command.kind = ClockCommand::Kind::kExtend;
  command.case_id = request->case_id();
  command.clock = request->clock();
  command.command_id = request->command_id();
  command.reason = request->reason();
  if (request->has_due_at()) command.due_at = events::GetTime(request->due_at());
  command.term = request->term();
  command.notify_reporter = request->notify_reporter();
  command.correlation_id = grpc_util::TraceIdFrom(*context);
  return Change(*context, auth::methods::kExtendClock, std::move(command), *response);
}

grpc::Status DeadlineService::SuspendClock(grpc::ServerContext* context,
                                           const v1::SuspendClockRequest* request,
                                           v1::ChangeClockResponse* response) {
  ClockCommand command;
  command.kind = ClockCommand::Kind::kSuspend;
  command.case_id = request->case_id();
  command.clock = request->clock();
  command.command_id = request->command_id();
  command.reason = request->reason();
  command.correlation_id = grpc_util::TraceIdFrom(*context);
  return Change(*context, auth::methods::kSuspendClock, std::move(command), *response);
}

grpc::Status DeadlineService::ResumeClock(grpc::ServerContext* context,
                                          const v1::ResumeClockRequest* request,
                                          v1::ChangeClockResponse* response) {
  ClockCommand command;
  command.kind = ClockCommand::Kind::kResume;
  command.case_id = request->case_id();
  command.clock = request->clock();
  command.command_id = request->command_id();
  command.reason = request->reason();
  command.correlation_id = grpc_util::TraceIdFrom(*context);
  return Change(*context, auth::methods::kResumeClock, std::move(command), *response);
}

}  // namespace meldpunt::deadline
