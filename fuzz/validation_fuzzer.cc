// Request validation: the bytes are one intake request (the first byte picks which), parsed as its
// proto the way gRPC hands it to the service, then validated by the same functions the service
// calls (domain::ValidateSubmission, the casework command builders) and, when valid, turned into
// the event and checked against a case parsed from the rest of the input.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/domain/case_state.h"
#include "libs/domain/validation.h"
#include "libs/events/codec.h"
#include "libs/events/ids.h"
#include "meldpunt/intake/v1/intake.pb.h"
#include "services/intake/commands.h"

namespace {

namespace v1 = ::meldpunt::intake::v1;
namespace domain = ::meldpunt::domain;
namespace events = ::meldpunt::events;
namespace intake = ::meldpunt::intake;

template <typename Request>
bool Parse(const std::string& bytes, Request* request) {
  return request->ParseFromString(bytes);
}

// What IntakeLogic::Execute does with a command, minus the store and the log.
void Exercise(const absl::StatusOr<intake::Command>& command, const domain::Case& current,
              absl::Time now) {
  if (!command.ok()) {
    if (command.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return;
  }
  events::Envelope envelope = events::NewEnvelope("MP-0000000000000", "intake", now);
  *envelope.mutable_actor() = command->actor;
  // MergeCase leaves the payload to IntakeLogic::Merge, which resolves the master first.
  if (!command->payload) return;
  command->payload(envelope);
  events::Finish(envelope, "ev-fuzz");
  if (domain::Check(current, envelope).ok()) {
    (void)command->check(current, now);
    domain::Case after = current;
    (void)domain::Apply(after, envelope);
  }
}

template <typename Request, typename Build>
void Command(const std::string& bytes, const domain::Case& current, absl::Time now, Build build) {
  Request request;
  if (!Parse(bytes, &request)) return;
  Exercise(build(request), current, now);
}

}  // namespace

// Parse errors are expected by the thousand: keep protobuf's log quiet.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t which = in.ConsumeIntegral<uint8_t>();
  const std::string request_bytes = in.ConsumeRandomLengthString(1 << 16);
  const int64_t now_seconds = in.ConsumeIntegralInRange<int64_t>(0, 4102444800);  // until 2100
  domain::Case current;
  if (!current.ParseFromString(in.ConsumeRemainingBytesAsString())) current.Clear();
  const absl::Time now = absl::FromUnixSeconds(now_seconds);

  switch (which % 14) {
    case 0: {
      v1::SubmitCaseRequest r;
      if (!Parse(request_bytes, &r)) return 0;
      const absl::Status status =
          domain::ValidateSubmission(r.submitting_system(), r.request_key(), r.draft());
      if (!status.ok()) {
        if (status.code() != absl::StatusCode::kInvalidArgument) std::abort();
        return 0;
      }
      // A valid submission has a case id and its reference reads back.
      const std::string case_id = events::CaseIdFor(r.submitting_system(), r.request_key());
      if (!events::IsCaseId(case_id)) std::abort();
      bool check_ok = false;
      const std::string reference = events::ReferenceFor(case_id, 2026);
      if (events::NormalizeReference(reference, &check_ok) != reference || !check_ok) std::abort();
      events::Envelope envelope = events::NewEnvelope(case_id, "intake", now);
      *envelope.mutable_case_submitted()->mutable_draft() = r.draft();
      events::Finish(envelope, "ev-fuzz");
      domain::Case fresh;
      (void)domain::Apply(fresh, envelope);
      return 0;
    }
    case 1: {
      // Case ids and references as people type them into a lookup.
      bool check_ok = false;
      (void)events::IsCaseId(request_bytes);
      (void)events::NormalizeReference(request_bytes, &check_ok);
      return 0;
    }
    case 2:
      Command<v1::ProvideInformationRequest>(request_bytes, current, now,
                                             intake::ProvideInformationCommand);
      return 0;
    case 3:
      Command<v1::WithdrawCaseRequest>(request_bytes, current, now, intake::WithdrawCommand);
      return 0;
    case 4:
      Command<v1::ReopenCaseRequest>(request_bytes, current, now,
                                     [](const v1::ReopenCaseRequest& r) {
                                       return intake::ReopenCommand(r, intake::CommandRules{});
                                     });
      return 0;
    case 5:
      Command<v1::AcceptCaseRequest>(request_bytes, current, now, intake::AcceptCommand);
      return 0;
    case 6:
      Command<v1::BounceCaseRequest>(request_bytes, current, now, intake::BounceCommand);
      return 0;
    case 7:
      Command<v1::RequestInformationRequest>(request_bytes, current, now,
                                             intake::RequestInformationCommand);
      return 0;
    case 8:
      Command<v1::AnswerCaseRequest>(request_bytes, current, now, intake::AnswerCommand);
      return 0;
    case 9:
      Command<v1::CloseCaseRequest>(request_bytes, current, now, intake::CloseCommand);
      return 0;
    case 10:
      Command<v1::ReassignCaseRequest>(request_bytes, current, now, intake::ReassignCommand);
      return 0;
    case 11:
      Command<v1::DecideAdmissibilityRequest>(request_bytes, current, now,
                                              intake::DecideAdmissibilityCommand);
      return 0;
    case 12:
      Command<v1::MergeCaseRequest>(request_bytes, current, now, intake::MergeCommand);
      return 0;
    case 13:
      Command<v1::ReferExternallyRequest>(request_bytes, current, now, intake::ReferCommand);
      return 0;
  }
  return 0;
}
