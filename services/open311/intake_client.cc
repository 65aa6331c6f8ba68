#include "services/open311/intake_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/auth/auth.h"
#include "libs/config/config.h"
#include "libs/observability/log.h"

namespace meldpunt::open311 {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& key, const std::string& path) {
  absl::StatusOr<std::string> text = config::ReadFile(path);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(key, ": cannot read '", path, "'"));
  return text;
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<IntakeClient>> IntakeClient::Create(const GatewayConfig& config) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments args;
  if (config.intake_plaintext) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!config.intake_tls_ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFile("intake.tls.ca_file", config.intake_tls_ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!config.intake_tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadFile("intake.tls.cert_file", config.intake_tls_cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFile("intake.tls.key_file", config.intake_tls_key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
    if (!config.intake_tls_server_name.empty()) {
      args.SetSslTargetNameOverride(config.intake_tls_server_name);
    }
  }
  auto client = std::unique_ptr<IntakeClient>(
      new IntakeClient(grpc::CreateCustomChannel(config.intake_address, credentials, args),
                       config.intake_token_file, config.intake_timeout));
  if (client->token_file_ != nullptr) {
    absl::StatusOr<std::string> token = client->token_file_->Read("intake.token_file");
    if (!token.ok()) return token.status();
    client->token_ = std::string(absl::StripAsciiWhitespace(*token));
    if (client->token_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("intake.token_file: '", config.intake_token_file, "' is empty"));
    }
  }
  return client;
}

IntakeClient::IntakeClient(std::shared_ptr<grpc::Channel> channel, std::string token_file,
                           absl::Duration timeout)
    : channel_(std::move(channel)),
      stub_(intake::v1::Intake::NewStub(channel_)),
      timeout_(timeout),
      token_file_(token_file.empty() ? nullptr : std::make_unique<WatchedFile>(token_file)) {}

std::string IntakeClient::Token() {
  if (token_file_ == nullptr) return "";
  if (auto changed = token_file_->Changed("intake.token_file")) {
    if (changed->ok() && !absl::StripAsciiWhitespace(**changed).empty()) {
      absl::MutexLock lock(&mu_);
      token_ = std::string(absl::StripAsciiWhitespace(**changed));
    } else {
      log::Error("intake.token_file changed but holds no token; keeping the last one",
                 {{"error", changed->ok() ? "empty" : std::string(changed->status().message())}});
    }
  }
  absl::MutexLock lock(&mu_);
  return token_;
}

std::unique_ptr<grpc::ClientContext> IntakeClient::Context(const std::string& system) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  if (const std::string token = Token(); !token.empty()) {
    context->AddMetadata("authorization", "Bearer " + token);
  }
  if (!system.empty()) context->AddMetadata(std::string(auth::kOnBehalfOfHeader), system);
  return context;
}

template <typename Request, typename Response>
absl::StatusOr<Response> IntakeClient::Call(grpc::Status (intake::v1::Intake::Stub::*method)(
                                                grpc::ClientContext*, const Request&, Response*),
                                            const std::string& system, const Request& request) {
  Response response;
  absl::Status status = FromGrpc(((*stub_).*method)(Context(system).get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<intake::v1::SubmitCaseResponse> IntakeClient::Submit(
    const std::string& system, const intake::v1::SubmitCaseRequest& request) {
  return Call(&intake::v1::Intake::Stub::SubmitCase, system, request);
}

absl::StatusOr<intake::v1::GetCaseResponse> IntakeClient::Get(const std::string& system,
                                                              const std::string& case_id) {
  intake::v1::GetCaseRequest request;
  request.set_case_id(case_id);
  return Call(&intake::v1::Intake::Stub::GetCase, system, request);
}

absl::StatusOr<intake::v1::ListCasesResponse> IntakeClient::List(
    const std::string& system, const intake::v1::ListCasesRequest& request) {
  return Call(&intake::v1::Intake::Stub::ListCases, system, request);
}

absl::StatusOr<intake::v1::CaseResponse> IntakeClient::ProvideInformation(
    const std::string& system, const intake::v1::ProvideInformationRequest& request) {
  return Call(&intake::v1::Intake::Stub::ProvideInformation, system, request);
}

bool IntakeClient::Healthy() {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (now - health_checked_ < absl::Seconds(2)) return healthy_;
    health_checked_ = now;
  }
  intake::v1::GetCategoriesRequest request;
  intake::v1::GetCategoriesResponse response;
  std::unique_ptr<grpc::ClientContext> context = Context("");
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  const bool healthy = stub_->GetCategories(context.get(), request, &response).ok();
  absl::MutexLock lock(&mu_);
  healthy_ = healthy;
  return healthy;
}

}  // namespace meldpunt::open311
