// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr (Abseil 20220623 has
// none).
//
//   RETURN_IF_ERROR(producer.Flush());
//   ASSIGN_OR_RETURN(auto value, redis.Get(key));
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MELDPUNT_CONCAT_INNER(a, b) a##b
#define MELDPUNT_CONCAT(a, b) MELDPUNT_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    ::absl::Status meldpunt_status_ = (expr);            \
    if (!meldpunt_status_.ok()) return meldpunt_status_; \
  } while (0)

#define MELDPUNT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  MELDPUNT_ASSIGN_OR_RETURN_IMPL(MELDPUNT_CONCAT(meldpunt_statusor_, __LINE__), lhs, expr)
