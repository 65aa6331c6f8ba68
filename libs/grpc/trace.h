// The caller's trace id, read from the call's metadata, so a service can carry it into its logs
// and into the envelope's correlation_id (and so into the Kafka record's trace-id header).
//
//   std::string trace = grpc_util::TraceIdFrom(*context);  // "" when the caller sent none
//   if (request.correlation_id().empty() && !trace.empty()) request.set_correlation_id(trace);
#pragma once

#include <string>

#include <grpcpp/server_context.h>

namespace meldpunt::grpc_util {

// The metadata header a Meldpunt client sets to name its trace.
inline constexpr char kTraceIdMetadata[] = "x-trace-id";
// The W3C Trace Context header (https://www.w3.org/TR/trace-context/) tracing libraries send.
inline constexpr char kTraceparentMetadata[] = "traceparent";

// `x-trace-id` if it is 1-128 visible ASCII characters (0x21-0x7E: no spaces, no control or
// non-ASCII bytes), else the 32-hex trace-id of a well-formed `traceparent`, else "". Only the
// first value of each header counts; a malformed one is ignored, never an error. Takes the base
// class, so sync (ServerContext) and callback (CallbackServerContext) handlers both use it.
std::string TraceIdFrom(const grpc::ServerContextBase& context);

}  // namespace meldpunt::grpc_util
