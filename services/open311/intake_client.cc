#include "services/open311/intake_client.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/auth/auth.h"
#include "libs/observability/log.h"

namespace meldpunt::open311 {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(key, ": cannot read '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
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
  if (!config.intake_token_file.empty() && client->Token().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("intake.token_file: cannot read a token from '",
                                                   config.intake_token_file, "'"));
  }
  return client;
}

IntakeClient::IntakeClient(std::shared_ptr<grpc::Channel> channel, std::string token_file,
                           absl::Duration timeout)
    : channel_(std::move(channel)),
      stub_(intake::v1::Intake::NewStub(channel_)),
      token_file_(std::move(token_file)),
      timeout_(timeout) {}

std::string IntakeClient::Token() {
  if (token_file_.empty()) return "";
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (now - token_checked_ < absl::Seconds(1)) return token_;
  token_checked_ = now;
  struct stat st {};
  const int64_t mtime = stat(token_file_.c_str(), &st) == 0
                            ? st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec + st.st_size
                            : -1;
  if (mtime == token_mtime_) return token_;
  absl::StatusOr<std::string> token = ReadFile("intake.token_file", token_file_);
  if (!token.ok()) {
    log::Error("intake.token_file cannot be read; keeping the last token",
               {{"error", std::string(token.status().message())}});
    return token_;
  }
  token_mtime_ = mtime;
  token_ = std::string(absl::StripAsciiWhitespace(*token));
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

absl::StatusOr<intake::v1::SubmitCaseResponse> IntakeClient::Submit(
    const std::string& system, const intake::v1::SubmitCaseRequest& request) {
  intake::v1::SubmitCaseResponse response;
  absl::Status status = FromGrpc(stub_->SubmitCase(Context(system).get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<intake::v1::GetCaseResponse> IntakeClient::Get(const std::string& system,
                                                              const std::string& case_id) {
  intake::v1::GetCaseRequest request;
  request.set_case_id(case_id);
  intake::v1::GetCaseResponse response;
  absl::Status status = FromGrpc(stub_->GetCase(Context(system).get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<intake::v1::ListCasesResponse> IntakeClient::List(
    const std::string& system, const intake::v1::ListCasesRequest& request) {
  intake::v1::ListCasesResponse response;
  absl::Status status = FromGrpc(stub_->ListCases(Context(system).get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<intake::v1::CaseResponse> IntakeClient::ProvideInformation(
    const std::string& system, const intake::v1::ProvideInformationRequest& request) {
  intake::v1::CaseResponse response;
  absl::Status status =
      FromGrpc(stub_->ProvideInformation(Context(system).get(), request, &response));
  if (!status.ok()) return status;
  return response;
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
