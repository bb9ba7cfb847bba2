# shellcheck shell=bash
# Shared helpers for the scripts in this folder. Source it; it defines functions only.

# A heading for the next step, with the time since the script started (m:ss).
step() { printf '\n==> %s  [%d:%02d]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)) >&2; }

# A Python 3 interpreter that has boto3, botocore and moto (the test fakes and moto_server
# need them). Prints its path.
find_python() {
  local candidate
  for candidate in "${BLUEGREEN_PYTHON:-}" python3 /usr/local/bin/python3 /usr/bin/python3; do
    [[ -n "$candidate" ]] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import boto3, botocore, moto' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "no python3 with boto3, botocore and moto found; set BLUEGREEN_PYTHON" >&2
  return 1
}
