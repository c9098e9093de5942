//! What a deploy resolves before it changes anything: the settings, the
//! address, the architecture, the template, the zips and where they go, and
//! the change set that carries them.

use aws_sdk_cloudformation::types::{Parameter, Stack, Tag};

use super::args::StackArgs;
use super::error::Error;
use super::report::SeededReport;
use crate::build::{self};
use crate::config::{AwsArgs, Settings};
use crate::deploy::assets::{self, ArtifactStore};
use crate::deploy::changeset::{self};
use crate::deploy::seed::{self, Seeded};
use crate::deploy::stack::{self, StackError};
use crate::stack::{functions, ids, Architecture};

pub(super) const FINGERPRINT_TAG: &str = "invctl:fingerprint";
const TEMPLATE_TAG: &str = "invctl:template-sha256";

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.contains(char::is_whitespace)
}

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

pub(super) fn tag(stack: &Stack, key: &str) -> Option<String> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_owned))
}

pub(crate) fn stack_parameter(stack: &Stack, key: &str) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value().map(str::to_owned))
}

/// The zips to deploy: freshly built, or the last build's with --skip-build.
/// The zips to deploy: built for `arch` (for AWS), or, for the local
/// cloud, for this machine in the fast local profile.
pub(crate) fn zips(
    args: &StackArgs,
    arch: Architecture,
    local: bool,
) -> Result<Vec<(functions::FunctionSpec, Vec<u8>, String)>, Error> {
    let workspace = args.workspace.locate()?;
    if !args.skip_build {
        if local {
            build::build_local(&workspace)?;
        } else {
            build::build(&workspace, arch, &functions::ALL)?;
        }
    }
    functions::ALL
        .into_iter()
        .map(|function| {
            let path = if local {
                build::local_zip_path(&workspace, &function)
            } else {
                build::zip_path(&workspace, arch, &function)
            };
            let bytes = std::fs::read(&path).map_err(|_| Error::NoZip {
                function: function.package,
                arch: arch.as_str(),
            })?;
            let hash = build::sha256_hex(&bytes);
            Ok((function, bytes, hash))
        })
        .collect()
}

/// What `run` resolved from the command line and settings before any AWS
/// call: the stack, the address, the architecture and the template.
pub(crate) struct Plan {
    pub(crate) settings: Settings,
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) arch: Architecture,
    /// Functions built for this machine, to run on the local cloud.
    pub(crate) local: bool,
    pub(crate) shape: crate::stack::Shape,
    pub(crate) template: String,
    pub(crate) template_hash: String,
}

impl Plan {
    pub(crate) fn resolve(aws: &AwsArgs, args: &StackArgs) -> Result<Self, Error> {
        let settings = Settings::resolve(aws)?;
        let email = args.email.clone().or_else(|| settings.email.clone());
        if let Some(address) = &email {
            if !valid_email(address) {
                return Err(Error::BadEmail(address.clone()));
            }
            if let (None, Some(file)) = (&args.email, &settings.email_from_implicit_file) {
                // The approval links work like passwords: say where they go.
                eprintln!(
                    "warning: alerts and approval links (which approve purchase orders like a password) go to {address}, as {} in this folder says (pass --email, or --config to name the settings file, to silence this)",
                    file.display()
                );
            }
        }
        // The local cloud runs the functions on this machine: built for it.
        let local = settings.local.is_some() && Architecture::host().is_some();
        let arch = match (args.arch, local) {
            (Some(arch), _) => arch,
            (None, true) => Architecture::host().unwrap_or_default(),
            (None, false) => Architecture::default(),
        };
        let local = local && Some(arch) == Architecture::host();
        let shape = crate::stack::Shape {
            architecture: arch,
            reserve_concurrency: !args.no_reserved_concurrency
                && settings.reserved_concurrency != Some(false),
        };
        let template = crate::stack::synthesize_shaped(shape)?.template.to_yaml();
        let template_hash = build::sha256_hex(template.as_bytes());
        Ok(Plan {
            name: settings.stack_name.clone(),
            settings,
            email,
            arch,
            local,
            shape,
            template,
            template_hash,
        })
    }

    /// The artifact bucket named by `--artifact-bucket` or the settings
    /// file, if either names one.
    pub(crate) fn named_bucket<'a>(&'a self, args: &'a StackArgs) -> Option<&'a str> {
        args.artifact_bucket
            .as_deref()
            .or(self.settings.artifact_bucket.as_deref())
    }

    pub(super) fn stack_error(&self, source: StackError) -> Error {
        Error::Stack {
            stack: self.name.clone(),
            source,
        }
    }
}

/// Where the zips and the template go: `--artifact-bucket`, the config
/// file's, or the account's own bucket for the region.
pub(crate) async fn artifact_store(
    args: &StackArgs,
    plan: &Plan,
    config: &aws_config::SdkConfig,
    region: &str,
) -> Result<ArtifactStore, Error> {
    let account = assets::account_id(config).await?;
    Ok(ArtifactStore {
        s3: assets::s3_client(config),
        bucket: plan
            .named_bucket(args)
            .map(str::to_owned)
            .unwrap_or_else(|| assets::bucket_name(&account, region)),
        region: region.to_owned(),
        owner: account,
    })
}

/// The change set for the uploaded `assets`, tagged with the fingerprint
/// that lets the next deploy see it has nothing to do.
pub(super) fn change_set_request<'a>(
    plan: &'a Plan,
    create: bool,
    fingerprint: &str,
    email: &str,
    bucket: &str,
    assets: assets::StackAssets,
) -> changeset::Request<'a> {
    let mut parameters = vec![
        parameter(ids::param::NOTIFICATION_EMAIL, email),
        parameter(ids::param::ARTIFACT_BUCKET, bucket),
    ];
    parameters.extend(
        assets
            .code_keys
            .iter()
            .map(|(key, value)| parameter(key, value)),
    );
    changeset::Request {
        stack_name: &plan.name,
        // Timestamped: a change set left by --no-execute or a declined
        // prompt must not block the next deploy of the same content.
        name: format!("invctl-{}-{}", &fingerprint[..16], unix_seconds()),
        create,
        template_url: assets.template_url,
        parameters,
        tags: vec![
            Tag::builder()
                .key(FINGERPRINT_TAG)
                .value(fingerprint)
                .build(),
            Tag::builder()
                .key(TEMPLATE_TAG)
                .value(&plan.template_hash)
                .build(),
        ],
    }
}

/// Loads the sample catalog into the deployed inventory table, keeping
/// products that are already there.
pub(super) async fn seed_catalog(
    plan: &Plan,
    config: &aws_config::SdkConfig,
    client: &aws_sdk_cloudformation::Client,
) -> Result<SeededReport, Error> {
    let table = stack::physical_id(client, &plan.name, ids::INVENTORY_TABLE)
        .await
        .map_err(|e| plan.stack_error(e))?;
    let Seeded { added, kept } = seed::seed(
        &aws_sdk_dynamodb::Client::new(config),
        &table,
        &seed::catalog()?,
    )
    .await?;
    Ok(SeededReport { added, kept })
}
