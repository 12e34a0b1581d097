#!/usr/bin/env bash
# Makes real Terraform available to the tests (__tests__/terraform/), offline afterwards:
#   1. a `terraform` binary >= 1.7 (mock_provider): kept if one is on the PATH, else HashiCorp's release zip
#      (Terraform is not a Debian package), checked against the release's SHA256SUMS, into $TERRAFORM_BIN_DIR
#      (default /usr/local/bin as root, else .terraform-bin/ in this project);
#   2. hashicorp/aws 5.x (>= 5.100) and 6.x in a filesystem mirror: kept where the tests already find them
#      (see __tests__/helpers/terraform.ts), else `terraform providers mirror` into .terraform-mirror/.
# Without the network it says what is missing and exits 0: the tests then skip (or, in CI, fail) naming it.
set -euo pipefail

TF_VERSION="${TF_VERSION:-1.11.4}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MIRROR="$ROOT/.terraform-mirror"
MIRROR_CANDIDATES=("${TF_PROVIDER_MIRROR:-$MIRROR}" "$MIRROR" /opt/tf-plugins "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins" /usr/local/share/terraform/plugins /usr/share/terraform/plugins)
export CHECKPOINT_DISABLE=1

say() { echo "fetch-terraform: $*"; }

install_terraform() {
  local bin_dir="${TERRAFORM_BIN_DIR:-}"
  if [ -z "$bin_dir" ]; then
    if [ "$(id -u)" = 0 ]; then bin_dir=/usr/local/bin; else bin_dir="$ROOT/.terraform-bin"; fi
  fi
  local base="https://releases.hashicorp.com/terraform/$TF_VERSION" zip="terraform_${TF_VERSION}_linux_amd64.zip"
  local work
  work="$(mktemp -d)"
  if ! curl -fsSL --retry 3 -o "$work/$zip" "$base/$zip" || ! curl -fsSL --retry 3 -o "$work/SHA256SUMS" "$base/terraform_${TF_VERSION}_SHA256SUMS"; then
    say "cannot download terraform $TF_VERSION from $base (no network?); the Terraform tests will say so"
    rm -rf "$work"
    return 1
  fi
  local want
  want="$(awk -v f="$zip" '$2 == f { print $1 }' "$work/SHA256SUMS")"
  [ -n "$want" ] || { say "$zip is not in SHA256SUMS"; return 1; }
  echo "$want  $work/$zip" | sha256sum -c - >/dev/null || { say "checksum mismatch for $zip"; return 1; }
  mkdir -p "$bin_dir"
  unzip -o -q "$work/$zip" terraform -d "$bin_dir"
  chmod +x "$bin_dir/terraform"
  rm -rf "$work"
  say "installed terraform $TF_VERSION in $bin_dir"
  case ":$PATH:" in *":$bin_dir:"*) ;; *) say "add $bin_dir to PATH (or set TERRAFORM=$bin_dir/terraform)";; esac
  export PATH="$bin_dir:$PATH"
}

# True when a mirror the tests search holds hashicorp/aws of major $1 at or above minor $2.
have_provider() {
  local dir
  for dir in "${MIRROR_CANDIDATES[@]}"; do
    [ -d "$dir/registry.terraform.io/hashicorp/aws" ] || continue
    if ls "$dir/registry.terraform.io/hashicorp/aws" | awk -F'[._]' -v major="$1" -v minor="$2" '
        /^[0-9]+\.[0-9]+\.[0-9]+$/ { v = $0 } /^terraform-provider-aws_/ { split($0, p, "_"); v = p[2] }
        { split(v, n, "."); if (n[1] == major && n[2] >= minor) found = 1 } END { exit !found }'; then
      say "hashicorp/aws $1.x (>= $1.$2) found in $dir"
      return 0
    fi
  done
  return 1
}

mirror_provider() {
  local constraint="$1" work
  work="$(mktemp -d)"
  printf 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "%s" }\n  }\n}\n' "$constraint" >"$work/main.tf"
  if terraform -chdir="$work" providers mirror -platform=linux_amd64 "$MIRROR" >/dev/null 2>&1; then
    say "mirrored hashicorp/aws $constraint into $MIRROR"
  else
    say "cannot mirror hashicorp/aws $constraint from the registry (no network?); the Terraform tests will say so"
  fi
  rm -rf "$work"
}

[ -x "$ROOT/.terraform-bin/terraform" ] && export PATH="$ROOT/.terraform-bin:$PATH"
if command -v terraform >/dev/null; then
  say "terraform on the PATH: $(command -v terraform)"
else
  install_terraform || exit 0
fi

have_provider 5 100 || mirror_provider '~> 5.100'
have_provider 6 0 || mirror_provider '~> 6.0'
