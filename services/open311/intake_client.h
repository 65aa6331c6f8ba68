// The gateway's calls to the intake, each for the submitting system it speaks for
// (meldpunt-on-behalf-of), with the gateway's own credentials (client certificate and/or bearer
// token, role gateway) and a deadline.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "services/open311/config.h"
#include "services/open311/watched_file.h"

namespace meldpunt::open311 {

class IntakeClient {
 public:
  // Reads the TLS files; the token file is read again when it changes.
  static absl::StatusOr<std::unique_ptr<IntakeClient>> Create(const GatewayConfig& config);

  absl::StatusOr<intake::v1::SubmitCaseResponse> Submit(const std::string& system,
                                                        const intake::v1::SubmitCaseRequest& r);
  absl::StatusOr<intake::v1::GetCaseResponse> Get(const std::string& system,
                                                  const std::string& case_id);
  absl::StatusOr<intake::v1::ListCasesResponse> List(const std::string& system,
                                                     const intake::v1::ListCasesRequest& r);
  absl::StatusOr<intake::v1::CaseResponse> ProvideInformation(
      const std::string& system, const intake::v1::ProvideInformationRequest& r);

  // Whether the intake answers (GetCategories as the gateway itself, so that the gateway's own
  // credentials are checked too), looked at no more than every two seconds (for /readyz).
  bool Healthy();

 private:
  IntakeClient(std::shared_ptr<grpc::Channel> channel, std::string token_file,
               absl::Duration timeout);
  std::unique_ptr<grpc::ClientContext> Context(const std::string& system);
  std::string Token();
  // One unary call of the stub for `system`.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (intake::v1::Intake::Stub::*method)(
                                    grpc::ClientContext*, const Request&, Response*),
                                const std::string& system, const Request& request);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<intake::v1::Intake::Stub> stub_;
  const absl::Duration timeout_;
  std::unique_ptr<WatchedFile> token_file_;  // null: no token
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time health_checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool healthy_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace meldpunt::open311
