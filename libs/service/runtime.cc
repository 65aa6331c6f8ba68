#include "libs/service/runtime.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace meldpunt::service {

namespace {

// The process's one exit reason (RequestFailureExit): process-wide like the signals it rides on.
struct FailureExit {
  absl::Mutex mu;
  absl::Status why ABSL_GUARDED_BY(mu);
};
FailureExit& TheFailureExit() {
  static FailureExit* exit = new FailureExit();
  return *exit;
}

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void RequestFailureExit(const absl::Status& why) {
  FailureExit& exit = TheFailureExit();
  {
    absl::MutexLock lock(&exit.mu);
    if (!exit.why.ok()) return;  // already on its way out
    exit.why = why.ok() ? absl::InternalError("failure exit requested") : why;
  }
  log::Error("the process cannot go on: draining and exiting to be restarted",
             {{"error", why.ToString()}});
  // Every thread blocks SIGTERM (BlockShutdownSignals): it waits for WaitForShutdownSignal.
  kill(getpid(), SIGTERM);
}

absl::Status FailureExitReason() {
  FailureExit& exit = TheFailureExit();
  absl::MutexLock lock(&exit.mu);
  return exit.why;
}

void TuneServingProcess() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  sigaddset(&set, SIGHUP);  // taken by WaitForReloadSignal where a service reloads; else ignored
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool WaitForReloadSignal(absl::Duration timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  timespec ts = absl::ToTimespec(timeout);
  return sigtimedwait(&set, nullptr, &ts) == SIGHUP;
}

void WaitForShutdownSignal() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int signal = 0;
  sigwait(&set, &signal);
  log::Info("shutdown signal received", {{"signal", signal}});
}

absl::Status RetryUntilAvailable(const std::string& what, absl::Duration timeout,
                                 const std::function<absl::Status()>& attempt) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    absl::Status status = attempt();
    if (status.ok() || status.code() != absl::StatusCode::kUnavailable) return status;
    if (absl::Now() + backoff > deadline) {
      return absl::UnavailableError(absl::StrCat(
          what, " not reachable after ", absl::FormatDuration(timeout), ": ", status.message()));
    }
    log::Warning("waiting for dependency", {{"dependency", what}, {"error", status.ToString()}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(3));
  }
}

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      args.config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      args.config_path = arg.substr(9);
    } else if (arg == "--help-config") {
      args.help_config = true;
    } else if (arg == "--check-config") {
      args.check_config = true;
    } else if (arg == "--help" || arg == "-h") {
      return absl::InvalidArgumentError("");
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown argument '", arg, "'"));
    }
  }
  return args;
}

std::string Usage(const std::string& program) {
  return absl::StrCat(
      "usage: ", program, " [--config FILE] [--check-config] [--help-config]\n",
      "  Every key can be overridden by an environment variable MELDPUNT_<KEY>, e.g.\n",
      "  kafka.brokers -> MELDPUNT_KAFKA_BROKERS. --help-config lists the keys.\n");
}

}  // namespace meldpunt::service
