// The category catalogue on the real stack: the intake serves it (GetCategories, labels in the
// caller's language) from deploy/config/categories.yaml, and refuses a case whose category is not
// in it, naming the field, without appending anything.
#include <grpcpp/grpcpp.h>

#include <map>

#include <gtest/gtest.h>

#include "meldpunt/intake/v1/intake.grpc.pb.h"
#include "tests/testing/e2e.h"
#include "tests/testing/stack.h"

namespace meldpunt {
namespace {

namespace t = ::meldpunt::types::v1;

class CatalogueE2e : public testing::E2eSuite {
 protected:
  std::unique_ptr<intake::v1::Intake::Stub> Intake() {
    return intake::v1::Intake::NewStub(grpc::CreateChannel(stack_->services.at("intake").grpc,
                                                           grpc::InsecureChannelCredentials()));
  }

  std::map<std::string, intake::v1::CategoryInfo> Categories(t::Language language) {
    grpc::ClientContext context;
    intake::v1::GetCategoriesRequest request;
    request.set_language(language);
    intake::v1::GetCategoriesResponse response;
    const grpc::Status status = Intake()->GetCategories(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, intake::v1::CategoryInfo> out;
    for (const auto& c : response.categories()) out[c.id()] = c;
    return out;
  }
};

TEST_F(CatalogueE2e, AFormGetsTheCategoriesInItsLanguage) {
  std::map<std::string, intake::v1::CategoryInfo> nl = Categories(t::NL);
  std::map<std::string, intake::v1::CategoryInfo> fr = Categories(t::FR);
  ASSERT_TRUE(nl.count("potholes"));
  EXPECT_EQ(nl["potholes"].label(), "Putten in de weg");
  EXPECT_EQ(fr["potholes"].label(), "Nids-de-poule");
  EXPECT_EQ(nl["potholes"].parent(), "roads");
  EXPECT_EQ(nl["potholes"].service_code(), "103");
  EXPECT_EQ(Categories(t::LANGUAGE_UNSPECIFIED)["potholes"].label(), "Putten in de weg");
  EXPECT_EQ(Categories(t::EN)["street-lighting"].description(),
            "A street light that is out, flickers or burns by day; a damaged post");

  grpc::ClientContext context;
  intake::v1::GetCategoriesRequest bad;
  bad.set_language(static_cast<t::Language>(9));
  intake::v1::GetCategoriesResponse response;
  const grpc::Status status = Intake()->GetCategories(&context, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("language"), std::string::npos) << status.error_message();
}

TEST_F(CatalogueE2e, ACaseOfACategoryOutsideTheCatalogueIsRefused) {
  intake::v1::SubmitCaseRequest request;
  request.set_submitting_system("e2e-web-form");
  request.set_request_key(testing::UniqueName("catalogue"));
  auto* d = request.mutable_draft();
  d->set_kind(t::REPORT);
  d->set_channel(t::WEB);
  d->set_category("street-lightning");  // a typo
  d->set_description("Lamp kapot");
  d->mutable_reporter()->set_anonymous(true);
  grpc::ClientContext context;
  intake::v1::SubmitCaseResponse submitted;
  grpc::Status status = Intake()->SubmitCase(&context, request, &submitted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("draft.category"), std::string::npos)
      << status.error_message();
  // Nothing was appended: the same request key with the right category makes a new case.
  d->set_category("street-lighting");
  grpc::ClientContext again;
  status = Intake()->SubmitCase(&again, request, &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(submitted.created());
}

}  // namespace
}  // namespace meldpunt
