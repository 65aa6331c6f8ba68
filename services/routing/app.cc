#include "services/routing/app.h"

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/wiring.h"
#include "libs/status/status_macros.h"

namespace meldpunt::routing {

RoutingApp::RoutingApp(RoutingConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

RoutingApp::~RoutingApp() { Stop(); }

absl::Status RoutingApp::Start() {
  ASSIGN_OR_RETURN(Rules rules, Rules::FromConfig(config_.categories, config_.departments,
                                                  config_.default_department));
  rules_ = std::make_unique<Rules>(std::move(rules));
  logic_ = std::make_unique<RoutingLogic>(*rules_, clock_);
  routed_ = &prometheus::BuildCounter()
                 .Name("meldpunt_routing_routed_total")
                 .Help("Cases routed, by department")
                 .Register(*registry_);
  admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready(); });
  RETURN_IF_ERROR(admin_->Start(config_.admin_listen));

  std::vector<kafka::TopicSpec> topics;
  for (const std::string& topic : rules_->DispatchTopics()) {
    topics.push_back({topic, static_cast<int>(config_.dispatch_partitions),
                      static_cast<int>(config_.replication_factor)});
  }
  RETURN_IF_ERROR(service::EnsureTopicsAtStart(config_, topics));
  ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-routing"));
  ASSIGN_OR_RETURN(auto consumer, service::MakeCaseEventConsumer(config_, config_.consumer_group,
                                                                 "meldpunt-routing"));
  consumer_ = std::make_unique<events::EventConsumer>(
      std::move(consumer),
      [this](const events::Envelope& e, const kafka::Record&) { return HandleEvent(e); },
      registry_.get(), config_.consumer_group);
  consumer_->Start();
  service_ = std::make_unique<RoutingService>(*rules_);
  RETURN_IF_ERROR(grpc_.Start(config_.grpc_listen, {service_.get()}));
  grpc_.SetServing(true);
  started_ = true;
  log::Info("routing started", {{"grpc_port", grpc_.port()}, {"admin_port", admin_->port()}});
  return absl::OkStatus();
}

absl::Status RoutingApp::HandleEvent(const events::Envelope& envelope) {
  std::optional<RoutingOutput> output = logic_->Handle(envelope);
  if (!output) return absl::OkStatus();
  // Both records in flight at once; the input is committed only when both are acknowledged.
  const absl::Time deadline = absl::Now() + config_.produce_timeout;
  struct Ack {
    absl::Notification done;
    absl::Status status;
  };
  auto dispatch_ack = std::make_shared<Ack>();
  auto routed_ack = std::make_shared<Ack>();
  auto callback = [](std::shared_ptr<Ack> ack) {
    return [ack](absl::StatusOr<kafka::Delivered> result) {
      ack->status = result.status();
      ack->done.Notify();
    };
  };
  RETURN_IF_ERROR(producer_->SendAsync(DispatchRecord(*output), callback(dispatch_ack)));
  RETURN_IF_ERROR(producer_->SendAsync(events::ToRecord(events::kCaseEventsTopic, output->routed),
                                       callback(routed_ack)));
  for (const auto& ack : {dispatch_ack, routed_ack}) {
    if (!ack->done.WaitForNotificationWithDeadline(deadline)) {
      return absl::UnavailableError("routing output not acknowledged in time");
    }
    RETURN_IF_ERROR(ack->status);
  }
  routed_->Add({{"department", output->routed.case_routed().department()}}).Increment();
  log::Info("case routed", {{"case_id", envelope.case_id()},
                            {"trace_id", envelope.correlation_id()},
                            {"department", output->routed.case_routed().department()},
                            {"rule", output->routed.case_routed().rule_id()}});
  return absl::OkStatus();
}

bool RoutingApp::Ready() const { return started_ && consumer_ && consumer_->running(); }

void RoutingApp::Stop() {
  if (started_) {
    started_ = false;
    grpc_.Shutdown(config_.shutdown_grace);
    if (consumer_) consumer_->Stop();
    if (producer_) (void)producer_->Flush(absl::Seconds(5));
  }
  if (admin_) admin_->Stop();
}

}  // namespace meldpunt::routing
