#include "services/routing/app.h"

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/events/event_log.h"
#include "libs/events/topics.h"
#include "libs/kafka/admin.h"
#include "libs/observability/log.h"
#include "libs/service/runtime.h"
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

  std::vector<kafka::TopicSpec> topics = {{events::kCaseEventsTopic,
                                           static_cast<int>(config_.case_events_partitions),
                                           static_cast<int>(config_.replication_factor)}};
  for (const std::string& topic : rules_->DispatchTopics()) {
    topics.push_back({topic, static_cast<int>(config_.dispatch_partitions),
                      static_cast<int>(config_.replication_factor)});
  }
  RETURN_IF_ERROR(service::RetryUntilAvailable("kafka", config_.startup_timeout, [&] {
    return kafka::EnsureTopics(config_.kafka_brokers, topics, absl::Seconds(5));
  }));
  ASSIGN_OR_RETURN(producer_,
                   kafka::Producer::Create({.brokers = config_.kafka_brokers,
                                            .client_id = "meldpunt-routing",
                                            .delivery_timeout = config_.produce_timeout}));
  ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create({.brokers = config_.kafka_brokers,
                                                           .group_id = config_.consumer_group,
                                                           .topics = {events::kCaseEventsTopic},
                                                           .client_id = "meldpunt-routing"}));
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

absl::Status RunRouting(const RoutingConfig& config) {
  RoutingApp app(config);
  RETURN_IF_ERROR(app.Start());
  service::WaitForShutdownSignal();
  app.Stop();
  return absl::OkStatus();
}

}  // namespace meldpunt::routing
