// AES-256-GCM sealing, the reporter's fields in and out of it, and erasure by key destruction.
#include "libs/privacy/privacy.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "libs/privacy/testing/counting_key_store.h"

namespace meldpunt::privacy {
namespace {

namespace t = ::meldpunt::types::v1;

TEST(Seal, OpensOnlyWithTheSameKeyAndBinding) {
  const std::string key = RandomBytes(kKeyBytes);
  absl::StatusOr<std::string> sealed = Seal(key, "An Janssens", "MP-1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kNonceBytes + 11 + kTagBytes);
  EXPECT_EQ(sealed->find("Janssens"), std::string::npos);
  EXPECT_EQ(*Open(key, *sealed, "MP-1"), "An Janssens");
  // Two seals of the same text differ (a fresh nonce each time).
  EXPECT_NE(*Seal(key, "An Janssens", "MP-1"), *sealed);
  // Another key, another case id, a flipped bit, a cut: DATA_LOSS, never garbage.
  EXPECT_EQ(Open(RandomBytes(kKeyBytes), *sealed, "MP-1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, *sealed, "MP-2").status().code(), absl::StatusCode::kDataLoss);
  std::string flipped = *sealed;
  flipped[kNonceBytes + 3] ^= 0x01;
  EXPECT_EQ(Open(key, flipped, "MP-1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, sealed->substr(0, 20), "MP-1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(Seal("short", "x", "").ok());
}

TEST(MasterKey, MustBe64HexCharacters) {
  const std::string path = ::testing::TempDir() + "/master.key";
  std::ofstream(path) << "  " << std::string(64, 'a') << "\n";
  absl::StatusOr<std::string> key = ReadMasterKey("privacy.master_key_file", path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), kKeyBytes);
  std::ofstream(path) << std::string(63, 'a');
  EXPECT_NE(ReadMasterKey("privacy.master_key_file", path).status().message().find("64 hex"),
            std::string::npos);
  std::ofstream(path) << std::string(63, 'a') << "z";
  EXPECT_NE(ReadMasterKey("privacy.master_key_file", path).status().message().find("hex"),
            std::string::npos);
  EXPECT_NE(ReadMasterKey("privacy.master_key_file", "/no/such/file")
                .status()
                .message()
                .find("privacy.master_key_file: cannot read"),
            std::string::npos);
}

t::Reporter Person() {
  t::Reporter r;
  r.set_name("An Janssens");
  r.set_email("an@example.org");
  r.set_phone("+32 9 123 45 67");
  r.set_address("Korenmarkt 1, 9000 Gent");
  r.set_language(t::NL);
  r.set_notify_by(t::NOTIFY_EMAIL);
  return r;
}

TEST(Sealer, ThePersonalFieldsTravelSealedAndComeBack) {
  MemoryKeyStore keys;
  Sealer sealer(keys);
  t::Reporter r = Person();
  ASSERT_TRUE(sealer.SealReporter("MP-1", &r).ok());
  EXPECT_TRUE(r.name().empty());
  EXPECT_TRUE(r.email().empty());
  EXPECT_TRUE(r.phone().empty());
  EXPECT_TRUE(r.address().empty());
  EXPECT_FALSE(r.sealed().empty());
  // What is not personal stays readable.
  EXPECT_EQ(r.language(), t::NL);
  EXPECT_EQ(r.notify_by(), t::NOTIFY_EMAIL);
  EXPECT_EQ(r.SerializeAsString().find("Janssens"), std::string::npos);
  // A reporter that arrives sealed or erased is refused: only Meldpunt sets those, and a client
  // that set them would keep its plain fields out of the seal or its case out of retention.
  const std::string once = r.sealed();
  t::Reporter forged = Person();
  forged.set_sealed("x");
  EXPECT_EQ(sealer.SealReporter("MP-1", &forged).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(forged.name(), "An Janssens");  // unchanged, and never passed on
  forged = Person();
  forged.set_erased(true);
  EXPECT_EQ(sealer.SealReporter("MP-1", &forged).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sealer.SealReporter("MP-1", &r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.sealed(), once);
  // A reporter without personal data is not sealed.
  t::Reporter anonymous;
  anonymous.set_anonymous(true);
  ASSERT_TRUE(sealer.SealReporter("MP-2", &anonymous).ok());
  EXPECT_TRUE(anonymous.sealed().empty());

  t::Reporter opened = r;
  ASSERT_TRUE(sealer.OpenReporter("MP-1", &opened).ok());
  EXPECT_EQ(opened.name(), "An Janssens");
  EXPECT_EQ(opened.email(), "an@example.org");
  EXPECT_EQ(opened.address(), "Korenmarkt 1, 9000 Gent");
  EXPECT_TRUE(opened.sealed().empty());
  EXPECT_FALSE(opened.erased());
  // Sealed for one case, it does not open as another's.
  t::Reporter moved = r;
  (void)keys.KeyFor("MP-9");
  EXPECT_EQ(sealer.OpenReporter("MP-9", &moved).code(), absl::StatusCode::kDataLoss);
}

TEST(Sealer, DestroyingTheKeyErasesThePersonForGood) {
  MemoryKeyStore keys;
  Sealer sealer(keys);
  t::Reporter r = Person();
  ASSERT_TRUE(sealer.SealReporter("MP-1", &r).ok());
  EXPECT_TRUE(*keys.Destroy("MP-1"));
  EXPECT_FALSE(*keys.Destroy("MP-1"));  // already gone
  t::Reporter opened = r;
  ASSERT_TRUE(sealer.OpenReporter("MP-1", &opened).ok());
  EXPECT_TRUE(opened.erased());
  EXPECT_TRUE(opened.name().empty());
  EXPECT_TRUE(opened.sealed().empty());
  EXPECT_EQ(opened.language(), t::NL);
  // The key is never made again, so nothing new can be sealed for the case.
  t::Reporter again = Person();
  EXPECT_EQ(sealer.SealReporter("MP-1", &again).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.name(), "An Janssens");  // unchanged on error
}

TEST(BatchKeys, ARunsKeysAreReadOnceAndAnsweredFromWhatWasRead) {
  testing::CountingKeyStore store;
  const std::string made = *store.keys.KeyFor("MP-1");
  ASSERT_TRUE(store.keys.KeyFor("MP-2").ok());
  ASSERT_TRUE(*store.keys.Destroy("MP-2"));
  BatchKeys keys(store);
  ASSERT_TRUE(keys.Prefetch({"MP-1", "MP-2", "MP-3", "MP-1"}).ok());
  EXPECT_EQ(store.find_all, 1);
  const int finds = store.find;
  EXPECT_EQ(*keys.Find("MP-1"), made);
  EXPECT_EQ(*keys.KeyFor("MP-1"), made);
  EXPECT_TRUE(absl::IsNotFound(keys.Find("MP-2").status())) << "destroyed";
  EXPECT_TRUE(absl::IsNotFound(keys.Find("MP-3").status())) << "never made";
  EXPECT_EQ(store.find, finds) << "answered from the prefetch";
  EXPECT_EQ(store.key_for, 0);
  // A key the run needs made: made by the store once, then held.
  const std::string made_now = *keys.KeyFor("MP-3");
  EXPECT_EQ(*keys.Find("MP-3"), made_now);
  EXPECT_EQ(store.key_for, 1);
  // A destroyed key is not made again behind the view.
  EXPECT_EQ(keys.KeyFor("MP-2").status().code(), absl::StatusCode::kFailedPrecondition);
  // What is read again is not asked again; what the view destroys is gone from it too.
  ASSERT_TRUE(keys.Prefetch({"MP-1", "MP-3"}).ok());
  EXPECT_EQ(store.find_all, 1);
  EXPECT_TRUE(*keys.Destroy("MP-1"));
  EXPECT_TRUE(absl::IsNotFound(keys.Find("MP-1").status()));
  EXPECT_TRUE(absl::IsNotFound(store.keys.Find("MP-1").status()));
}

}  // namespace
}  // namespace meldpunt::privacy
