// The base every service's composition root (app.h/.cc) stands on, so the services do not drift:
// - start steps that each register their stop; shutdown runs the stops last first, and a start
//   that fails runs the stops registered so far (as Redpanda's application.cc does with its
//   deferred stops);
// - the readiness flag /readyz reads (an atomic: the admin server's thread reads it while the
//   main thread starts and stops the service);
// - the rebuild guard (rebuild_guard.h) and the replay timeout from config (rebuild.timeout,
//   config::AddRebuildKeys).
// The app itself only builds and wires: the behaviour lives in named classes beside it.
//
//   absl::Status RoutingApp::Start() {
//     return app_.Start([&]() -> absl::Status {
//       admin_ = std::make_unique<observability::AdminServer>(registry_, [this] { return Ready();
//       }); RETURN_IF_ERROR(app_.Step("admin server", [&] { return
//       admin_->Start(config_.admin_listen); },
//                                 [&] { admin_->Stop(); }));
//       ASSIGN_OR_RETURN(producer_, service::MakeProducer(config_, "meldpunt-routing"));
//       app_.Defer("producer", [&] { (void)producer_->Flush(absl::Seconds(5)); });
//       ...
//       return absl::OkStatus();
//     });
//   }
//   void RoutingApp::Stop() { app_.Stop(); }
//   bool RoutingApp::Ready() const { return app_.Ready([&] { return consumer_->joined(); }); }
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/config/service_config.h"
#include "libs/service/rebuild_guard.h"

namespace meldpunt::service {

class Application {
 public:
  struct Options {
    // Whether /readyz may say ready while a rebuild runs. By default it does not (the intake's
    // projection and deadline-watch's timers are incomplete until the rebuild ends);
    // notification's consumer and senders go on during its outbox rebuild, so it sets this.
    bool ready_while_rebuilding = false;
  };

  // `name` for the log ("routing"); the replay timeout is the config's rebuild.timeout.
  Application(std::string name, const config::ServiceConfig& config, Options options);
  Application(std::string name, const config::ServiceConfig& config)
      : Application(std::move(name), config, Options()) {}
  // Stops what is still started.
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Runs `steps`, which call Step and Defer. When it fails, the stops registered so far run, last
  // first, and its error is returned; when it succeeds the service is started (Ready may be
  // true from now on). Once.
  absl::Status Start(const std::function<absl::Status()>& steps);
  // One start step: runs `start`; when it succeeded, registers `stop` (if any) for shutdown. The
  // error of `start` is returned as it is.
  absl::Status Step(std::string name, const std::function<absl::Status()>& start,
                    std::function<void()> stop = nullptr);
  // Registers the stop of something made or started already (a producer's flush), or of
  // something a later step starts that must stop after what starts in between.
  void Defer(std::string name, std::function<void()> stop);
  // Not ready at once, then every registered stop, last first. Later calls do nothing more. Not
  // concurrently with Start.
  void Stop();

  // Started, not stopping, no rebuild running (unless ready_while_rebuilding) and `also` true.
  // `also` runs only when the rest holds, so it may read what Start made. Any thread.
  bool Ready(const std::function<bool()>& also = nullptr) const;
  bool started() const { return started_.load(); }

  RebuildGuard& rebuild() { return rebuild_; }
  const RebuildGuard& rebuild() const { return rebuild_; }
  absl::Duration replay_timeout() const { return rebuild_.replay_timeout(); }
  const std::string& name() const { return name_; }
  // The names of the stops registered and not run yet, in the order they were registered.
  std::vector<std::string> pending_stops() const;

 private:
  void RunStops();

  const std::string name_;
  const Options options_;
  RebuildGuard rebuild_;
  std::atomic<bool> started_{false};
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, std::function<void()>>> stops_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meldpunt::service
