// What every service main needs: command line, config loading with clear errors, waiting for
// dependencies at start, and waiting for SIGTERM/SIGINT.
//
//   int main(int argc, char** argv) {
//     return RunMain<IntakeConfig>(argc, argv, "intake", IntakeSchema(), [](const IntakeConfig& c)
//     {
//       return RunIntake(c);  // builds the app, serves until WaitForShutdownSignal() returns
//     });
//   }
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/config/config.h"
#include "libs/observability/log.h"

namespace meldpunt::service {

// What a serving process sets before its first thread: Abseil's lock-order checking off. Debian's
// Abseil is built without NDEBUG, so every absl::Mutex lock would otherwise update a process-wide
// graph of lock order under one global lock (it showed in a profile of SubmitCase). The tests keep
// the checking (tools/tsan's Abseil, built with NDEBUG, has it off; TSan checks lock order
// itself). RunMain calls it.
void TuneServingProcess();

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards, so that
// only WaitForShutdownSignal receives them. RunMain calls it before any thread exists.
void BlockShutdownSignals();

// Blocks until SIGTERM or SIGINT arrives, or RequestFailureExit is called.
void WaitForShutdownSignal();

// Ends serving as a failure, for what the process cannot recover from (a fatal Kafka producer
// error: librdkafka's idempotent producer must then be recreated, and the process is the unit that
// is restarted): WaitForShutdownSignal returns, the app drains, and RunApp returns `why`, so the
// process exits non-zero and the orchestrator starts it again. Thread-safe; the first reason
// stays.
void RequestFailureExit(const absl::Status& why);
// The reason given to RequestFailureExit; OK when none was.
absl::Status FailureExitReason();

// True when SIGHUP arrived within `timeout` (for a reload loop that also checks a stop flag).
bool WaitForReloadSignal(absl::Duration timeout);

// Calls `attempt` until it succeeds, fails with a non-UNAVAILABLE error, or `timeout` passes.
absl::Status RetryUntilAvailable(const std::string& what, absl::Duration timeout,
                                 const std::function<absl::Status()>& attempt);

struct Args {
  std::string config_path;
  bool help_config = false;
  bool check_config = false;
};

// --config PATH, --check-config (validate and exit), --help-config (list every key), --help.
absl::StatusOr<Args> ParseArgs(int argc, char** argv);

std::string Usage(const std::string& program);

template <typename Config>
int RunMain(int argc, char** argv, const std::string& service, const config::Schema<Config>& schema,
            const std::function<absl::Status(const Config&)>& run) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "%s\n%s", std::string(args.status().message()).c_str(),
                 Usage(argv[0]).c_str());
    return 2;
  }
  if (args->help_config) {
    std::printf("%s", schema.Describe().c_str());
    return 0;
  }
  absl::StatusOr<Config> config =
      args->config_path.empty() ? schema.LoadString("", config::ProcessEnvironment(), "<defaults>")
                                : schema.LoadFile(args->config_path, config::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "meldpunt-%s: invalid configuration: %s\n", service.c_str(),
                 std::string(config.status().message()).c_str());
    return 2;
  }
  if (args->check_config) {
    std::printf("configuration OK\n");
    return 0;
  }
  log::Init(service, log::ParseLevel(config->log_level).value_or(log::Level::kInfo));
  TuneServingProcess();
  BlockShutdownSignals();
  absl::Status status = run(*config);
  if (!status.ok()) {
    log::Error("service stopped with an error", {{"error", status.ToString()}});
    return 1;
  }
  log::Info("service stopped");
  return 0;
}

}  // namespace meldpunt::service
