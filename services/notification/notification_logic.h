// What notification does with case events: for a submitted case with a reporter e-mail, send the
// acknowledgement (in the reporter's language); for a case referred to an outside body, the
// referral letter. Retries with backoff, dead-letters after the last attempt, and records the
// outcome as an event. Free of Kafka and Redis: works through EventLog,
// DeliveryStore, Mailer and Clock.
#pragma once

#include <functional>
#include <map>

#include "absl/status/status.h"
#include "libs/clock/clock.h"
#include "libs/events/event_log.h"
#include "services/notification/delivery_store.h"
#include "services/notification/mailer.h"
#include "services/notification/templates.h"

namespace meldpunt::notification {

struct NotificationOptions {
  int max_attempts = 5;
  absl::Duration first_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  // Days until the answer is due, per case kind name (REPORT, COMPLAINT, ...), for the letter.
  std::map<std::string, int64_t> answer_days;
};

class NotificationLogic {
 public:
  using Sleep = std::function<void(absl::Duration)>;

  NotificationLogic(const Templates& templates, Mailer& mailer, DeliveryStore& store,
                    events::EventLog& case_log, events::EventLog& dead_letters,
                    const clock::Clock& clock, Sleep sleep, NotificationOptions options)
      : templates_(templates),
        mailer_(mailer),
        store_(store),
        case_log_(case_log),
        dead_letters_(dead_letters),
        clock_(clock),
        sleep_(std::move(sleep)),
        options_(std::move(options)) {}

  absl::Status Handle(const events::Envelope& envelope);

  // The values a letter about this submission is rendered with.
  std::map<std::string, std::string> LetterValues(const events::Envelope& submitted) const;

 private:
  // Sends `template_name` to the reporter of `submitted` (once per `key`), and records the outcome
  // as an event caused by `envelope`.
  absl::Status Deliver(const std::string& template_name, const std::string& key,
                       const events::Envelope& envelope, const events::Envelope& submitted,
                       const std::map<std::string, std::string>& values);

  const Templates& templates_;
  Mailer& mailer_;
  DeliveryStore& store_;
  events::EventLog& case_log_;
  events::EventLog& dead_letters_;
  const clock::Clock& clock_;
  Sleep sleep_;
  NotificationOptions options_;
};

std::string LanguageCode(types::v1::Language language);

}  // namespace meldpunt::notification
