// The keys every Meldpunt service shares (listen addresses, Kafka, Redis, logging, start and stop).
// A service's own config struct derives from ServiceConfig and calls AddServiceKeys on its schema.
#pragma once

#include <fstream>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/auth/auth.h"
#include "libs/catalog/catalog.h"
#include "libs/config/config.h"
#include "libs/kafka/security.h"

namespace meldpunt::config {

struct ServiceConfig {
  std::string grpc_listen;
  std::string admin_listen;
  std::string kafka_brokers = "127.0.0.1:9092";
  int64_t case_events_partitions = 6;
  int64_t replication_factor = 1;
  absl::Duration produce_timeout = absl::Seconds(10);
  int64_t consumer_lanes = 6;
  int64_t consumer_lane_min_records = 64;
  // Gathering 10 ms of records into one request cuts the Produce requests per case by a quarter
  // at the maximum rate (docs/benchmarks.md, "Fewer, fuller fetches"). Where someone waits for
  // the append, a service sets 2 ms: the intake (SubmitCase), routing (the dispatch) and
  // deadline-watch (each run's clock events before its next run); notification keeps 10 ms.
  absl::Duration producer_linger = absl::Milliseconds(10);
  // How long the broker holds the case-event consumer's fetch for 32 KiB (fetch.wait.max.ms):
  // the most a quiet log adds to a stage. Routing sets 5 ms: a case is dispatched one fetch after
  // its submission, and 5 ms against 20 took the dispatch p99 at 100 cases/s from 25 to 10.5 ms
  // for about 135 more empty fetches a second at rest (docs/benchmarks.md, "Routing's fetches
  // held 5 ms").
  absl::Duration consumer_fetch_wait = absl::Milliseconds(20);
  // librdkafka properties passed through to the case-event consumer and the producer.
  std::map<std::string, std::string> consumer_properties;
  std::map<std::string, std::string> producer_properties;
  // How every Kafka client of the service connects (kafka::ClientSecurity): TLS, SASL/SCRAM.
  std::string kafka_security_protocol = "PLAINTEXT";
  std::string kafka_tls_ca_file;
  std::string kafka_tls_cert_file;
  std::string kafka_tls_key_file;
  std::string kafka_sasl_mechanism = "SCRAM-SHA-512";
  std::string kafka_sasl_username;
  std::string kafka_sasl_password_file;

  kafka::ClientSecurity kafka_security() const {
    return {.protocol = kafka_security_protocol,
            .ca_file = kafka_tls_ca_file,
            .cert_file = kafka_tls_cert_file,
            .key_file = kafka_tls_key_file,
            .sasl_mechanism = kafka_sasl_mechanism,
            .sasl_username = kafka_sasl_username,
            .sasl_password_file = kafka_sasl_password_file};
  }
  std::string redis_address = "127.0.0.1:6379";
  std::string redis_sentinels;
  std::string redis_master_name = "meldpunt";
  int64_t redis_wait_replicas = 0;
  absl::Duration redis_wait_timeout = absl::Seconds(2);
  int64_t redis_pool_size = 4;
  std::string log_level = "info";
  absl::Duration startup_timeout = absl::Seconds(60);
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Who may call the gRPC port (libs/auth/auth.h): TLS, client certificates, bearer tokens.
  bool grpc_plaintext_loopback = false;
  std::string grpc_tls_cert_file;
  std::string grpc_tls_key_file;
  std::string grpc_tls_client_ca_file;
  std::string jwt_key_set_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  absl::Duration jwt_max_lifetime = absl::Hours(24);
  absl::Duration auth_clock_skew = absl::Seconds(30);
  // The reporters' data keys (AddPrivacyKeys; libs/privacy/privacy.h).
  std::string privacy_master_key_file;
  std::string key_store_address = "127.0.0.1:6380";
  std::string key_store_sentinels;
  std::string key_store_master_name = "meldpunt-keys";
  // The category catalogue (AddCatalogKeys; libs/catalog). Empty: none (development only).
  std::string catalog_file;
  // How long a rebuild's replay of the case log may take (AddRebuildKeys; libs/service's
  // Application and RebuildGuard read it).
  absl::Duration replay_timeout = absl::Minutes(30);

  auth::SecurityOptions security() const {
    return {.tls_cert_file = grpc_tls_cert_file,
            .tls_key_file = grpc_tls_key_file,
            .tls_client_ca_file = grpc_tls_client_ca_file,
            .plaintext_loopback = grpc_plaintext_loopback,
            .jwt_key_set_file = jwt_key_set_file,
            .jwt_issuer = jwt_issuer,
            .jwt_audience = jwt_audience,
            .jwt_max_lifetime = jwt_max_lifetime,
            .clock_skew = auth_clock_skew};
  }
};

// The librdkafka properties Meldpunt sets itself because its guarantees rest on them (offsets
// stored only after an event is handled, read-committed, idempotent acks=all appends, the Java
// client's partitioner); kafka.*_properties may not change them.
inline constexpr absl::string_view kOwnedConsumerProperties[] = {"bootstrap.servers",
                                                                 "group.id",
                                                                 "enable.auto.commit",
                                                                 "enable.auto.offset.store",
                                                                 "isolation.level",
                                                                 "auto.offset.reset",
                                                                 "enable.partition.eof",
                                                                 "rebalance_cb",
                                                                 "event_cb",
                                                                 "partition.assignment.strategy"};
inline constexpr absl::string_view kOwnedProducerProperties[] = {
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "partitioner",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "transactional.id",
    "dr_cb",
    "event_cb",
    "max.in.flight.requests.per.connection",
    "max.in.flight",
    "linger.ms",
    "queue.buffering.max.ms"};

// The client security properties (security.*, ssl.*, sasl.*: kafka::IsSecurityProperty) are
// set from kafka.security.protocol, kafka.tls.* and kafka.sasl.* only: a pass-through could
// otherwise turn TLS or certificate checks off, or swap the principal.
template <size_t N>
absl::Status CheckPassThrough(absl::string_view key, const std::map<std::string, std::string>& m,
                              const absl::string_view (&owned)[N]) {
  for (const auto& [name, value] : m) {
    if (kafka::IsSecurityProperty(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", key, ".", name,
                       "': the Kafka client's security is set by kafka.security.protocol, "
                       "kafka.tls.* and kafka.sasl.* only"));
    }
    for (absl::string_view o : owned) {
      if (name == o) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'", key, ".", name, "': Meldpunt sets this property itself and it may not be changed",
            name == "linger.ms" || name == "queue.buffering.max.ms" ? " (use kafka.linger)"
            : name == "message.timeout.ms" || name == "delivery.timeout.ms"
                ? " (use kafka.produce_timeout)"
                : ""));
      }
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("'", key, ".", name, "': the value is empty"));
    }
  }
  return absl::OkStatus();
}

// The kafka.security.protocol, kafka.tls.* and kafka.sasl.* keys agree with each other. The files
// themselves are read when the clients are made at start (kafka::SecurityProperties, the error
// naming the key), as the gRPC certificates are: --check-config checks a configuration on a
// machine without the mounted secrets.
inline absl::Status CheckKafkaSecurity(const ServiceConfig& c) {
  const bool tls = c.kafka_security_protocol != "PLAINTEXT";
  const bool sasl = c.kafka_security_protocol == "SASL_SSL";
  const std::pair<absl::string_view, const std::string*> tls_files[] = {
      {"kafka.tls.ca_file", &c.kafka_tls_ca_file},
      {"kafka.tls.cert_file", &c.kafka_tls_cert_file},
      {"kafka.tls.key_file", &c.kafka_tls_key_file}};
  for (const auto& [key, path] : tls_files) {
    if (!tls && !path->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", key, "': set, but kafka.security.protocol is PLAINTEXT (no TLS)"));
    }
  }
  if (c.kafka_tls_cert_file.empty() != c.kafka_tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "'kafka.tls.cert_file' and 'kafka.tls.key_file': set both or neither");
  }
  if (!sasl) {
    if (!c.kafka_sasl_username.empty() || !c.kafka_sasl_password_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'kafka.sasl.username' / 'kafka.sasl.password_file': set, but "
                       "kafka.security.protocol is ",
                       c.kafka_security_protocol, " (SASL needs SASL_SSL)"));
    }
    return absl::OkStatus();
  }
  if (c.kafka_sasl_username.empty()) {
    return absl::InvalidArgumentError(
        "'kafka.sasl.username': required with kafka.security.protocol SASL_SSL");
  }
  if (c.kafka_sasl_password_file.empty()) {
    return absl::InvalidArgumentError(
        "'kafka.sasl.password_file': required with kafka.security.protocol SASL_SSL");
  }
  return absl::OkStatus();
}

template <typename T>
void AddServiceKeys(Schema<T>& schema) {
  schema.String("grpc.listen", &T::grpc_listen, "host:port of the gRPC server", HostPort(true))
      .String("admin.listen", &T::admin_listen,
              "host:port of the admin HTTP server (/metrics, /healthz, /readyz)", HostPort(true))
      .String("kafka.brokers", &T::kafka_brokers, "Kafka bootstrap servers, comma separated",
              NonEmpty())
      .Int("kafka.case_events_partitions", &T::case_events_partitions,
           "partitions of meldpunt.case-events.v1 when this service creates it", Range(1, 1024))
      .Int("kafka.replication_factor", &T::replication_factor,
           "replication factor of topics this service creates (3 in production)", Range(1, 7))
      .Int("kafka.consumer_lanes", &T::consumer_lanes,
           "case-topic partitions this service handles in parallel, at most (1: one event at a "
           "time); order within a partition, so within a case, is kept",
           Range(1, 64))
      .Int("kafka.consumer_lane_min_records", &T::consumer_lane_min_records,
           "records polled at once that make another lane worth its round trips: a poll of "
           "fewer than twice this many goes to one lane, whose runs take its partitions side "
           "by side",
           Range(1, 100000))
      .Duration("kafka.linger", &T::producer_linger,
                "how long the producer gathers records into one request (linger.ms): longer "
                "means fewer, larger requests for the broker and that much more latency",
                [](const absl::Duration& d) -> std::string {
                  return d < absl::ZeroDuration() || d > absl::Seconds(1)
                             ? "must be between 0s and 1s"
                             : "";
                })
      .Duration("kafka.fetch_wait", &T::consumer_fetch_wait,
                "how long the broker holds a fetch of the case-event consumer until 32 KiB are "
                "there (fetch.wait.max.ms): longer means fewer fetches at rest and that much "
                "more latency per stage when the log is quiet (routing: 5ms)",
                [](const absl::Duration& d) -> std::string {
                  return d < absl::Milliseconds(1) || d > absl::Seconds(1)
                             ? "must be between 1ms and 1s"
                             : "";
                })
      .StringMap("kafka.consumer_properties", &T::consumer_properties,
                 "librdkafka properties of the case-event consumer, passed through (e.g. "
                 "fetch.max.bytes); the keys Meldpunt's guarantees rest on are refused. "
                 "Unless named here the consumer fetches with fetch.min.bytes 32768 and "
                 "fetch.wait.max.ms from kafka.fetch_wait (fewer, fuller fetches under load), "
                 "and queued.min.messages 10000000 (its prefetch bounded by "
                 "queued.max.messages.kbytes alone, 64 MiB)")
      .StringMap("kafka.producer_properties", &T::producer_properties,
                 "librdkafka properties of the producer, passed through (e.g. batch.size); the "
                 "keys Meldpunt's guarantees rest on are refused")
      .Check([](const T& c) {
        return CheckPassThrough("kafka.consumer_properties", c.consumer_properties,
                                kOwnedConsumerProperties);
      })
      .Check([](const T& c) {
        return CheckPassThrough("kafka.producer_properties", c.producer_properties,
                                kOwnedProducerProperties);
      })
      .String("kafka.security.protocol", &T::kafka_security_protocol,
              "how every Kafka client of the service connects: SASL_SSL (TLS, and a SCRAM user "
              "the broker's ACLs name; production), SSL (TLS; with kafka.tls.cert_file the "
              "certificate is the principal) or PLAINTEXT (no encryption, no authentication: "
              "development on loopback only, warned at start)",
              OneOf({"PLAINTEXT", "SSL", "SASL_SSL"}))
      .String("kafka.tls.ca_file", &T::kafka_tls_ca_file,
              "PEM CA bundle that signed the broker certificates (SSL, SASL_SSL); empty: the "
              "system's CAs. The broker's certificate must name the host in kafka.brokers")
      .String("kafka.tls.cert_file", &T::kafka_tls_cert_file,
              "PEM client certificate (optional; with SSL its subject is the principal)")
      .String("kafka.tls.key_file", &T::kafka_tls_key_file,
              "PEM private key of kafka.tls.cert_file")
      .String("kafka.sasl.mechanism", &T::kafka_sasl_mechanism, "SASL mechanism with SASL_SSL",
              OneOf({"SCRAM-SHA-512", "SCRAM-SHA-256"}))
      .String("kafka.sasl.username", &T::kafka_sasl_username,
              "the service's Kafka principal (SCRAM user); required with SASL_SSL")
      .String("kafka.sasl.password_file", &T::kafka_sasl_password_file,
              "file whose first line is the SCRAM password of kafka.sasl.username (a mounted "
              "secret; never the password itself in the config); required with SASL_SSL; read "
              "again by every Kafka client the service makes")
      .Check([](const T& c) { return CheckKafkaSecurity(c); })
      .Duration("kafka.produce_timeout", &T::produce_timeout,
                "how long an append may wait for Kafka's acknowledgement before the call fails "
                "with UNAVAILABLE")
      .String("redis.address", &T::redis_address,
              "host:port of Redis (not used when redis.sentinels is set)", HostPort())
      .String("redis.sentinels", &T::redis_sentinels,
              "host:port of the Redis Sentinels, comma separated: when set, the service asks "
              "them for the primary of redis.master_name on every connect and follows a "
              "failover",
              HostPortList())
      .String("redis.master_name", &T::redis_master_name,
              "the name the Sentinels monitor the primary under", NonEmpty())
      .Int("redis.wait_replicas", &T::redis_wait_replicas,
           "replicas that must hold a write (Redis WAIT) before the service commits the Kafka "
           "offsets it covers or creates or destroys a data key in the key store: 1 with a "
           "replica, so that a failover loses nothing; 0 with a single Redis",
           Range(0, 5))
      .Duration("redis.wait_timeout", &T::redis_wait_timeout,
                "how long a WAIT may take before the writes count as not yet durable (the "
                "records are handled again)",
                [](const absl::Duration& d) -> std::string {
                  return d <= absl::ZeroDuration() ? "must be longer than 0s" : "";
                })
      .Int("redis.pool_size", &T::redis_pool_size, "Redis connections in the pool", Range(1, 64))
      .String("log.level", &T::log_level, "debug, info, warning or error",
              OneOf({"debug", "info", "warning", "error"}))
      .Duration("startup.timeout", &T::startup_timeout,
                "how long to wait for Kafka and Redis at start")
      .Duration("shutdown.grace", &T::shutdown_grace,
                "how long in-flight calls may finish on SIGTERM")
      .Bool("grpc.plaintext_loopback", &T::grpc_plaintext_loopback,
            "development only: serve gRPC without TLS; refused unless grpc.listen is a loopback "
            "address; without auth.jwt.key_set_file every call is let in unauthenticated (the "
            "service warns at start)")
      .String("grpc.tls.cert_file", &T::grpc_tls_cert_file,
              "PEM certificate chain of the gRPC port (TLS); required unless "
              "grpc.plaintext_loopback")
      .String("grpc.tls.key_file", &T::grpc_tls_key_file, "PEM private key of grpc.tls.cert_file")
      .String("grpc.tls.client_ca_file", &T::grpc_tls_client_ca_file,
              "PEM CA bundle of client certificates: when set every client must present one it "
              "signed (mTLS); the certificate's CN is the caller, its OU the role")
      .String("auth.jwt.key_set_file", &T::jwt_key_set_file,
              "bearer-token verification keys: a JSON Web Key Set (RFC 7517) whose keys each "
              "carry kid, alg and the key (RSA n/e, EC crv/x/y, or oct k); a token's kid picks "
              "its key; the file is read again when it changes, so keys rotate without a "
              "restart; tokens carry sub, role (submitter, department, team, ops, admin), "
              "department (for the department role), iss, aud, iat and exp")
      .String("auth.jwt.issuer", &T::jwt_issuer,
              "a token's iss must equal it; required with auth.jwt.key_set_file")
      .String("auth.jwt.audience", &T::jwt_audience,
              "a token's aud must include it; required with auth.jwt.key_set_file")
      .Duration("auth.jwt.max_lifetime", &T::jwt_max_lifetime,
                "the longest a token may be valid (exp - iat); longer-lived tokens are refused")
      .Duration("auth.clock_skew", &T::auth_clock_skew,
                "tolerance on a token's exp and nbf for clocks that differ")
      .Check([](const T& c) { return auth::CheckOptions(c.security(), c.grpc_listen); });
}

// The keys of the services that seal or open the reporter's personal data (intake, routing,
// notification).
template <typename T>
void AddPrivacyKeys(Schema<T>& schema) {
  schema
      .String("privacy.master_key_file", &T::privacy_master_key_file,
              "file with the 256-bit master key (64 hex characters) that wraps every case's data "
              "key; the same file for every service; losing it loses all personal data",
              NonEmpty())
      .String("privacy.key_store.address", &T::key_store_address,
              "host:port of the Redis that keeps the cases' data keys: persistent (AOF) and "
              "backed up, and not the Redis of the derived state (which may be flushed and "
              "rebuilt from the log); not used when privacy.key_store.sentinels is set",
              HostPort())
      .String("privacy.key_store.sentinels", &T::key_store_sentinels,
              "host:port of the Sentinels that monitor the key store, comma separated: when set, "
              "the service asks them for the primary of privacy.key_store.master_name",
              HostPortList())
      .String("privacy.key_store.master_name", &T::key_store_master_name,
              "the name the Sentinels monitor the key store's primary under", NonEmpty());
}

// The key of the services that rebuild derived state from the log by themselves (deadline-watch's
// timers, notification's outbox): how long the replay may take.
template <typename T>
void AddRebuildKeys(Schema<T>& schema) {
  schema.Duration("rebuild.timeout", &T::replay_timeout,
                  "how long a rebuild of the service's state in Redis from the case log may take "
                  "(the replay of meldpunt.case-events.v1 from its start, after Redis lost the "
                  "state or on an operator's request); the lock that keeps the other replicas "
                  "out lives 5 minutes longer",
                  [](const absl::Duration& d) -> std::string {
                    return d <= absl::ZeroDuration() ? "must be longer than 0s" : "";
                  });
}

// The category catalogue every service reads (libs/catalog): checked whole at start and by
// --check-config.
template <typename T>
void AddCatalogKeys(Schema<T>& schema,
                    const std::string& help =
                        "the category catalogue (deploy/config/categories.yaml): ids, parents, "
                        "labels in nl/fr/en, public service codes; read again when it changes. "
                        "Empty: no catalogue (development only: categories are then checked as ids "
                        "only)") {
  schema.String("catalog.file", &T::catalog_file, help).Check([](const T& c) -> absl::Status {
    if (c.catalog_file.empty()) return absl::OkStatus();
    return catalog::Catalog::LoadFile(c.catalog_file).status();
  });
}

}  // namespace meldpunt::config
