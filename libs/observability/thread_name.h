// Names the calling thread, so that top -H, perf and /proc/<pid>/task/*/comm show which of a
// service's threads does what ("mp-complete", "mp-fold-lane", ...). Linux keeps 15 characters;
// a longer name is cut.
//
//   std::thread([this] { observability::NameThread("mp-complete"); Run(); });
#pragma once

#include <pthread.h>

#include <string>

namespace meldpunt::observability {

inline void NameThread(const std::string& name) {
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace meldpunt::observability
