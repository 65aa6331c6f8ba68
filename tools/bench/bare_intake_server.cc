// The raw ceiling for SubmitCase: a bare C++ gRPC server (the same gRPC, the same generated
// service, the same thread model as ServerRunner: the sync API with default pollers) whose
// SubmitCase answers at once with a fixed case, touching neither Kafka nor Redis. `tools/dev bench
// submit` loads it and the real intake with the same ghz command, so their ratio is the cost of
// validation, a durable Kafka append and the projection.
//
//   bare_intake_server --listen 127.0.0.1:0     prints "port=<n>", serves until SIGTERM/SIGINT
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <unistd.h>

#include "meldpunt/intake/v1/intake.grpc.pb.h"

namespace {

class BareIntake final : public meldpunt::intake::v1::Intake::Service {
 public:
  grpc::Status SubmitCase(grpc::ServerContext*,
                          const meldpunt::intake::v1::SubmitCaseRequest* request,
                          meldpunt::intake::v1::SubmitCaseResponse* response) override {
    response->set_case_id("MP-0123456789ABC");
    response->set_reference("MP-2026-0123456789");
    response->set_created(true);
    *response->mutable_case_()->mutable_draft() = request->draft();
    return grpc::Status::OK;
  }
};

volatile std::sig_atomic_t stop = 0;

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
  }
  BareIntake service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "bare_intake_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("port=%d\n", port);
  std::fflush(stdout);
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::signal(SIGINT, [](int) { stop = 1; });
  while (!stop) pause();
  server->Shutdown();
  return 0;
}
