// The AWS shared configuration files and the region.
//
// Files: AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials) with sections `[name]`, and
// AWS_CONFIG_FILE (default ~/.aws/config) with sections `[profile name]` (and `[default]`).
// The profile is AWS_PROFILE, else "default". A setting in the credentials file wins over the
// same setting in the config file. Profiles that get credentials indirectly (role_arn,
// credential_process, sso_*) are not supported and say so.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "core/error.h"
#include "infra/aws/credentials.h"
#include "infra/aws/environment.h"

namespace bluegreen::aws {

// Settings of one profile (key -> value), merged from both files.
using ProfileSettings = std::map<std::string, std::string, std::less<>>;

// Parses INI text as the AWS CLI writes it. `config_style`: sections are "profile name"
// (except "default"). Returns the settings of `profile`, or an empty map when it is absent.
ProfileSettings parse_profile(std::string_view text, std::string_view profile, bool config_style);

struct ProfileFiles {
  std::filesystem::path credentials_file;
  std::filesystem::path config_file;
  std::string profile;
  bool profile_named_explicitly = false;  // AWS_PROFILE was set
};
ProfileFiles profile_files(const Environment& env);

// The merged settings of the selected profile; empty when neither file has it.
ProfileSettings load_profile(const ProfileFiles& files);

class ProfileCredentialsProvider final : public CredentialsProvider {
 public:
  explicit ProfileCredentialsProvider(Environment env);
  // Errors: not_found when the files or the default profile have no keys; invalid_input when
  // AWS_PROFILE names a profile that does not exist, or the profile is incomplete or uses an
  // unsupported indirect source.
  Result<AwsCredentials> credentials() override;
  std::string name() const override;

 private:
  Environment env_;
};

// AWS_REGION, else AWS_DEFAULT_REGION, else `region` of the selected profile.
// Errors: invalid_input ("no AWS region ...") naming the three places.
Result<std::string> resolve_region(const Environment& env);

}  // namespace bluegreen::aws
