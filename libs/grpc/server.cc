#include "libs/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace meldpunt::grpc_util {

ServerRunner::~ServerRunner() { Shutdown(absl::ZeroDuration()); }

absl::Status ServerRunner::Start(const std::string& listen,
                                 const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this gRPC binds with SO_REUSEPORT and a second process on the same port "succeeds".
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port_);
  // Bounded input: no request may exceed 4 MiB.
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  for (grpc::Service* service : services) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("gRPC server cannot listen on ", listen));
  }
  SetServing(false);
  return absl::OkStatus();
}

void ServerRunner::SetServing(bool serving) {
  if (!server_) return;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(serving);
}

void ServerRunner::Shutdown(absl::Duration grace) {
  if (!server_) return;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

}  // namespace meldpunt::grpc_util
