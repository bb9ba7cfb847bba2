// What `bluegreen --help` and each command's --help show after the options: the command's
// own examples and the exit codes (cli.h's ExitCode, in words).
#pragma once

namespace bluegreen::cli {

inline constexpr const char* kExitCodes =
    R"(Exit codes: 0 succeeded; 1 the deployment failed or was rolled back (blue still serves), or
another deployment of the group runs (deploy --wait waits for it instead); 2 invalid parameters
or arguments (the message names the key); 3 the server could not be reached, is not a
bluegreen server, refused this user, was lost while deploy followed a deployment (status
"server_lost"), or failed internally, or a loopback server address is served by a process of
another user (nothing is sent to it; set BLUEGREEN_SERVER_USER=NAME when your granted server
runs as user NAME); 4 there is no running deployment to act on (rollback, promote,
status --watch); 130 deploy was interrupted with Ctrl-C (the deployment goes on in the
server, or is being rolled back after a second Ctrl-C).
With --output json every command writes one JSON object on standard output, errors as
{"error": {"kind": ..., "message": ...}}.)";

inline constexpr const char* kAppExamples = R"(Examples:
  bluegreen server --state-dir .state
  bluegreen deploy --params params.json
  bluegreen status
  bluegreen rollback --group web
Each command's --help shows its own examples. Every UserParameters key is described in
README.md.)";

inline constexpr const char* kDeployExamples = R"(Examples:
  bluegreen deploy --params params.json
  bluegreen deploy --params '{"GROUP_ID":"web","APP_NAME":"hello","DEPLOYMENT_GROUP":"dev",
                              "TIMEOUT":"120","LOCAL_PATH":"hello-2.tgz","LISTEN":"127.0.0.1:8080"}'
  bluegreen deploy --params params.json --until serving
  bluegreen deploy --params - --output json < params.json
Ctrl-C stops following: the deployment goes on in the server, and deploy says how to follow
it (bluegreen status --watch --deployment d-...) and stop it (bluegreen rollback ...). A
second Ctrl-C within 3 seconds asks the server to roll the deployment back.
PROVIDER=elastigroup (the default when API_TOKEN is given) runs in this process with this
machine's AWS credentials; with --server URL or BLUEGREEN_SERVER set, the server runs it with
its own, journals it and resumes it after a restart.
Standard output ends with one JSON line (the result) when it is not a terminal, or with
--output json. Every UserParameters key is described in README.md.)";

inline constexpr const char* kStatusExamples = R"(Examples:
  bluegreen status
  bluegreen status --group web
  bluegreen status --watch
  bluegreen status --watch --deployment d-1a2b3c4d5e6f
  bluegreen status --output json)";

inline constexpr const char* kHistoryExamples = R"(Examples:
  bluegreen history
  bluegreen history --group web --limit 5
  bluegreen history --output json)";

inline constexpr const char* kLogsExamples = R"(Examples:
  bluegreen logs d-1a2b3c4d5e6f
  bluegreen logs d-1a2b3c4d5e6f --output json)";

inline constexpr const char* kRollbackExamples = R"(Examples:
  bluegreen rollback --group web
  bluegreen rollback --deployment d-1a2b3c4d5e6f
  bluegreen rollback --group web --no-wait)";

inline constexpr const char* kPromoteExamples = R"(Examples:
  bluegreen promote --group web
  bluegreen promote --deployment d-1a2b3c4d5e6f)";

inline constexpr const char* kShutdownExamples = R"(Examples:
  bluegreen shutdown
  bluegreen shutdown --server http://127.0.0.1:7070)";

inline constexpr const char* kServerExamples = R"(Examples:
  bluegreen server --state-dir .state
  bluegreen server --admin 127.0.0.1:0
  bluegreen server --allow-group deployers)";

}  // namespace bluegreen::cli
