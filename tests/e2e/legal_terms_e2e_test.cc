// From a submission with a receipt time to the due dates deadline-watch reads out (GetCaseClocks),
// on the real stack: the four binaries, Kafka and Redis. The e2e deadline config
// (tests/e2e/config/deadline_watch.yaml) gives complaints of the category service-quality three
// clocks, each counted differently:
//   acknowledge    10 days, the default (from the day after, no roll);
//   admissibility  10 days, judicial_code (from the day after, a last day on a weekend or a legal
//                  holiday moves to the next working day; a registered letter starts the term on
//                  the third working day after it was posted);
//   legal_answer   45 days, bestuursdecreet (from the day after, no roll).
// The receipt lies days back, so every due date differs from one counted from the registration.
#include <grpcpp/grpcpp.h>

#include <map>

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/codec.h"
#include "meldpunt/deadline/v1/deadline.grpc.pb.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;

class LegalTermsE2e : public testing::E2eSuite {
 protected:
  // Submits a complaint by letter received at `received`, and returns its clocks by name once
  // deadline-watch has started all three.
  std::map<std::string, deadline::v1::Clock> SubmitAndReadClocks(absl::Time received,
                                                                 bool registered) {
    intake::v1::SubmitCaseRequest request;
    request.set_submitting_system("e2e-mail-room");
    request.set_request_key(testing::UniqueName("legal-terms"));
    auto* d = request.mutable_draft();
    d->set_kind(t::COMPLAINT);
    d->set_channel(t::LETTER);
    d->set_category("service-quality");
    d->set_description("Klacht over de behandeling aan het loket");
    d->mutable_reporter()->set_name("An Claes");
    d->mutable_reporter()->set_address("Korenmarkt 1, 9000 Gent");
    events::SetTime(d->mutable_received_at(), received);
    d->set_registered_letter(registered);
    auto intake = intake::v1::Intake::NewStub(grpc::CreateChannel(
        stack_->services.at("intake").grpc, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    intake::v1::SubmitCaseResponse submitted;
    const grpc::Status status = intake->SubmitCase(&context, request, &submitted);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(events::GetTime(submitted.case_().received_at()), received);

    auto deadline = deadline::v1::DeadlineWatch::NewStub(grpc::CreateChannel(
        stack_->services.at("deadline_watch").grpc, grpc::InsecureChannelCredentials()));
    std::map<std::string, deadline::v1::Clock> clocks;
    EXPECT_TRUE(testing::Eventually(
        [&] {
          grpc::ClientContext read;
          deadline::v1::GetCaseClocksRequest get;
          get.set_case_id(submitted.case_id());
          deadline::v1::GetCaseClocksResponse response;
          if (!deadline->GetCaseClocks(&read, get, &response).ok()) return false;
          clocks.clear();
          for (const auto& c : response.clocks()) clocks[c.name()] = c;
          return clocks.count("acknowledge") && clocks.count("admissibility") &&
                 clocks.count("legal_answer");
        },
        absl::Seconds(30)))
        << "the three clocks of " << submitted.case_id() << " did not start";
    // (The e2e config's short `answer` clock of every complaint runs beside them.)
    return clocks;
  }

  // Midnight at the end of `day`, Brussels time.
  static absl::Time EndOf(absl::CivilDay day) {
    return absl::FromCivil(day + 1, calendar::BrusselsTimeZone());
  }
};

TEST_F(LegalTermsE2e, EveryClockRunsFromTheReceiptAndCountsAsItsPolicySays) {
  const absl::TimeZone& zone = calendar::BrusselsTimeZone();
  // The e2e calendar: Belgian legal holidays, no 11 July, no closing days.
  const auto cal = calendar::BusinessCalendar::Create({});
  ASSERT_TRUE(cal.ok());
  // Received 20 days ago at 10:30, on the most recent day whose 10th day after falls on a
  // Saturday, so that the two ways of counting differ.
  absl::CivilDay day = absl::ToCivilDay(absl::Now(), zone) - 20;
  while (absl::GetWeekday(day + 10) != absl::Weekday::saturday) --day;
  const absl::Time received = absl::FromCivil(absl::CivilMinute(day) + 10 * 60 + 30, zone);

  std::map<std::string, deadline::v1::Clock> clocks = SubmitAndReadClocks(received, false);
  ASSERT_TRUE(clocks.count("acknowledge") && clocks.count("admissibility") &&
              clocks.count("legal_answer"));
  for (const char* name : {"acknowledge", "admissibility", "legal_answer", "answer"}) {
    EXPECT_EQ(events::GetTime(clocks[name].started_at()), received)
        << name << " runs from the receipt";
  }
  // The default: the end of the 10th day after the receipt, a Saturday, as it is.
  EXPECT_EQ(events::GetTime(clocks["acknowledge"].due_at()), EndOf(day + 10));
  // The Judicial Code: that Saturday moves to Monday, or later after a legal holiday.
  const absl::CivilDay rolled = cal->FirstWorkingDayFrom(day + 10, calendar::HolidaySet::kFederal);
  EXPECT_GE(rolled, day + 12);
  EXPECT_EQ(events::GetTime(clocks["admissibility"].due_at()), EndOf(rolled));
  // The Bestuursdecreet: the end of the 45th day after the receipt, whatever day it is.
  EXPECT_EQ(events::GetTime(clocks["legal_answer"].due_at()), EndOf(day + 45));
}

TEST_F(LegalTermsE2e, ARegisteredLetterStartsTheJudicialTermOnTheThirdWorkingDay) {
  const absl::TimeZone& zone = calendar::BrusselsTimeZone();
  const auto cal = calendar::BusinessCalendar::Create({});
  ASSERT_TRUE(cal.ok());
  const absl::CivilDay posted = absl::ToCivilDay(absl::Now(), zone) - 12;
  const absl::Time received = absl::FromCivil(posted, zone);

  std::map<std::string, deadline::v1::Clock> clocks = SubmitAndReadClocks(received, true);
  ASSERT_TRUE(clocks.count("acknowledge") && clocks.count("admissibility") &&
              clocks.count("legal_answer"));
  // The third working day after the posting is the day of the event; ten days from the next.
  const absl::CivilDay third = cal->NthWorkingDayAfter(posted, 3, calendar::HolidaySet::kFederal);
  const absl::CivilDay last = cal->FirstWorkingDayFrom(third + 10, calendar::HolidaySet::kFederal);
  EXPECT_EQ(events::GetTime(clocks["admissibility"].due_at()), EndOf(last));
  // The other clocks do not count registered letters: from the posting date itself.
  EXPECT_EQ(events::GetTime(clocks["acknowledge"].due_at()), EndOf(posted + 10));
  EXPECT_EQ(events::GetTime(clocks["legal_answer"].due_at()), EndOf(posted + 45));
}

}  // namespace
}  // namespace meldpunt
