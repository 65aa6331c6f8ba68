#include "libs/service/application.h"

namespace meldpunt::service {

Application::Application(std::string name, const config::ServiceConfig& config, Options options)
    : name_(std::move(name)), options_(options), rebuild_(config.replay_timeout) {}

Application::~Application() { Stop(); }

absl::Status Application::Start(const std::function<absl::Status()>& steps) {
  if (absl::Status started = steps(); !started.ok()) {
    RunStops();
    return started;
  }
  started_ = true;
  return absl::OkStatus();
}

absl::Status Application::Step(std::string name, const std::function<absl::Status()>& start,
                               std::function<void()> stop) {
  if (absl::Status started = start(); !started.ok()) return started;
  if (stop) Defer(std::move(name), std::move(stop));
  return absl::OkStatus();
}

void Application::Defer(std::string name, std::function<void()> stop) {
  absl::MutexLock lock(&mu_);
  stops_.emplace_back(std::move(name), std::move(stop));
}

void Application::Stop() {
  started_ = false;
  RunStops();
}

void Application::RunStops() {
  // One at a time, taken off the list before it runs: a stop never runs twice, and none runs
  // under the lock (a stop may take the shutdown grace).
  for (;;) {
    std::function<void()> stop;
    {
      absl::MutexLock lock(&mu_);
      if (stops_.empty()) return;
      stop = std::move(stops_.back().second);
      stops_.pop_back();
    }
    stop();
  }
}

bool Application::Ready(const std::function<bool()>& also) const {
  if (!started_.load()) return false;
  if (!options_.ready_while_rebuilding && rebuild_.running()) return false;
  return !also || also();
}

std::vector<std::string> Application::pending_stops() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, stop] : stops_) names.push_back(name);
  return names;
}

}  // namespace meldpunt::service
