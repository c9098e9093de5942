//! `invctl deploy`: synth, build, upload what is new, and create or update
//! the stack through a change set that is shown before it runs.
//!
//! The flow (after rain's): look at the stack first. Missing: create it.
//! ROLLBACK_COMPLETE (a failed first create, which can only be deleted):
//! delete it, saying so, and create it anew. An operation in progress: wait
//! for it, then go on. UPDATE_ROLLBACK_FAILED: stop and say how to get out.
//! Otherwise update, unless the fingerprint recorded on the stack (template,
//! zips, parameters) says nothing changed: then nothing is uploaded and no
//! change set is made.

use std::io::{self, Write};

use aws_sdk_cloudformation::types::{Parameter, Stack, Tag};
use clap::Args;
use serde::Serialize;

use crate::build::{self, BuildError};
use crate::config::{AwsArgs, ConfigError, Settings};
use crate::console::Console;
use crate::deploy::assets::{self, ArtifactStore, AssetError};
use crate::deploy::changeset::{self, Change, Prepared};
use crate::deploy::seed::{self, SeedError, Seeded};
use crate::deploy::settle::{settle, OnRollbackFailed, SettleError};
use crate::deploy::stack::{self, Failure, StackError};
use crate::output::{ReportArgs, WorkspaceArgs};
use crate::stack::{functions, ids, Architecture};

const FINGERPRINT_TAG: &str = "invctl:fingerprint";
const TEMPLATE_TAG: &str = "invctl:template-sha256";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Address for stock alerts and approval requests (required on first deploy; remembered after)
    #[arg(long)]
    pub email: Option<String>,
    /// Execute the change set without asking (required off a terminal when resources are replaced or removed)
    #[arg(long)]
    pub yes: bool,
    /// Create and show the change set, but do not execute it
    #[arg(long)]
    pub no_execute: bool,
    /// Lambda architecture [default: arm64; with --local, this machine's]
    #[arg(long, value_enum)]
    pub arch: Option<Architecture>,
    /// Deploy the zips of the last `invctl build` instead of building
    #[arg(long)]
    pub skip_build: bool,
    /// S3 bucket for the Lambda zips and the template, in your account [default: invctl-artifacts-ACCOUNT-REGION, created on first use]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    /// Do not load the sample catalog into the inventory table
    #[arg(long)]
    pub no_seed: bool,
    /// Deploy the functions without their reserved concurrency (for accounts whose concurrency quota is too small to reserve any; also `reserved_concurrency = false` in invctl.toml)
    #[arg(long)]
    pub no_reserved_concurrency: bool,
    /// When the stack is UPDATE_ROLLBACK_FAILED, continue its rollback first (ContinueUpdateRollback), then deploy
    #[arg(long)]
    pub continue_rollback: bool,
    /// With --continue-rollback: a resource (logical id) that cannot roll back and is to be skipped; repeatable
    #[arg(
        long = "skip-resource",
        value_name = "LOGICAL_ID",
        requires = "continue_rollback"
    )]
    pub skip_resources: Vec<String>,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] crate::aws::SetupError),
    #[error(transparent)]
    Synth(#[from] crate::stack::SynthError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("no zip of {function} for {arch}: run `invctl build --arch {arch}` first, or deploy without --skip-build")]
    NoZip {
        function: &'static str,
        arch: &'static str,
    },
    #[error("stack {0} does not exist yet: the first deploy needs --email ADDRESS (or `email` in invctl.toml)")]
    EmailRequired(String),
    #[error("'{0}' is not an email address")]
    BadEmail(String),
    #[error(transparent)]
    Assets(#[from] AssetError),
    #[error("stack {stack}: {source}")]
    Stack { stack: String, source: StackError },
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error("the changes replace or remove resources and there is no terminal to confirm them: pass --yes to apply them")]
    NeedsYes,
    #[error("not applied; the change set {0} is left for review (`invctl deploy` again makes a new one)")]
    NotConfirmed(String),
    #[error(
        "the deploy of stack {stack} failed ({status}):\n{}{hint}",
        stack::failure_lines(failures)
    )]
    Failed {
        stack: String,
        status: String,
        failures: Vec<Failure>,
        hint: String,
    },
    #[error("{}", if *started {
        "interrupted while CloudFormation applies the change set: the operation goes on and leaves the stack consistent (it completes or rolls back); run `invctl deploy` again to wait for it, or `invctl status` to look"
    } else {
        "interrupted before any change set was executed: an operation the stack already had goes on in CloudFormation; run `invctl deploy` again to resume"
    })]
    Interrupted {
        /// Whether CloudFormation had been told to change the stack.
        started: bool,
    },
    #[error("Lambda in {region} has {unreserved} of the account's {quota} concurrent executions unreserved; reserving {extra} more for {functions} would leave {left}, below the {MIN_UNRESERVED} Lambda keeps unreserved, so CloudFormation would fail and roll the stack back. Nothing was changed. Either raise the account's \"Concurrent executions\" quota (Service Quotas, code L-B99A9384), or deploy without the reservation: `invctl deploy --no-reserved-concurrency`, or `reserved_concurrency = false` in invctl.toml (the public approval URL then shares the account's concurrency)")]
    ConcurrencyTooLow {
        region: String,
        unreserved: i64,
        quota: i64,
        extra: i64,
        left: i64,
        functions: String,
    },
    #[error("cannot read the account's Lambda concurrency before deploying: {0}")]
    AccountSettings(String),
    #[error("cannot read a zip or print the report")]
    Io(#[source] io::Error),
}

/// What Lambda keeps of an account's concurrency for unreserved functions.
pub const MIN_UNRESERVED: i64 = 100;

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::Setup(_) => crate::exit::USAGE,
            Error::EmailRequired(_) | Error::BadEmail(_) | Error::NeedsYes => crate::exit::USAGE,
            Error::Build(BuildError::Tool(_)) => crate::exit::MISSING_TOOL,
            Error::Interrupted { .. } => crate::exit::INTERRUPTED,
            _ => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    stack_name: String,
    /// `create`, `update` or `none`.
    action: &'static str,
    changes: Vec<Change>,
    executed: bool,
    uploaded: usize,
    outputs: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seeded: Option<SeededReport>,
    /// The email subscriptions and whether each is confirmed.
    subscriptions: Vec<crate::deploy::subscriptions::SubscriptionState>,
    /// The first line of the text report.
    #[serde(skip)]
    summary: String,
}

impl Report {
    /// A deploy that changed nothing.
    fn unchanged(
        stack_name: &str,
        uploaded: usize,
        outputs: serde_json::Map<String, serde_json::Value>,
        summary: &str,
    ) -> Self {
        Report {
            stack_name: stack_name.to_owned(),
            action: "none",
            changes: Vec::new(),
            executed: false,
            uploaded,
            outputs,
            seeded: None,
            subscriptions: Vec::new(),
            summary: summary.to_owned(),
        }
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Debug, Serialize)]
struct SeededReport {
    added: usize,
    kept: usize,
}

fn valid_email(address: &str) -> bool {
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

fn tag(stack: &Stack, key: &str) -> Option<String> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_owned))
}

fn stack_parameter(stack: &Stack, key: &str) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value().map(str::to_owned))
}

/// The zips to deploy: freshly built, or the last build's with --skip-build.
/// The zips to deploy: built for `arch` (for AWS), or, for the local
/// cloud, for this machine in the fast local profile.
fn zips(
    args: &DeployArgs,
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
struct Plan {
    settings: Settings,
    name: String,
    email: Option<String>,
    arch: Architecture,
    /// Functions built for this machine, to run on the local cloud.
    local: bool,
    shape: crate::stack::Shape,
    template: String,
    template_hash: String,
}

impl Plan {
    fn resolve(aws: &AwsArgs, args: &DeployArgs) -> Result<Self, Error> {
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

    fn stack_error(&self, source: StackError) -> Error {
        Error::Stack {
            stack: self.name.clone(),
            source,
        }
    }
}

/// Whether the change set may run: `--yes`, a yes typed on the terminal,
/// or, off a terminal, changes that neither replace nor remove anything.
fn confirm(
    console: &mut dyn Console,
    yes: bool,
    changes: &[Change],
    change_set: &str,
) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if console.interactive() {
        if console
            .confirm("Execute these changes? [y/N] ")
            .map_err(Error::Io)?
        {
            return Ok(());
        }
        return Err(Error::NotConfirmed(change_set.to_owned()));
    }
    if changes.iter().any(Change::is_destructive) {
        return Err(Error::NeedsYes);
    }
    Ok(())
}

pub fn run(
    aws: &AwsArgs,
    args: &DeployArgs,
    console: &mut dyn Console,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let plan = Plan::resolve(aws, args)?;
    // Set once CloudFormation has been told to change the stack, so an
    // interruption can say what it left behind.
    let started = std::cell::Cell::new(false);
    let work = deploy(&plan, args, console, &started);
    let report = crate::aws::runtime().block_on(async {
        tokio::select! {
            result = work => result,
            _ = tokio::signal::ctrl_c() => Err(Error::Interrupted { started: started.get() }),
        }
    })?;
    crate::output::print(&report, args.report.output, out).map_err(Error::Io)
}

/// Settles the stack, uploads what is new, and creates, shows, confirms and
/// executes the change set; then seeds the catalog.
async fn deploy(
    plan: &Plan,
    args: &DeployArgs,
    console: &mut dyn Console,
    started: &std::cell::Cell<bool>,
) -> Result<Report, Error> {
    let name = &plan.name;
    let poll = stack::poll_interval();
    let on_rollback_failed = if args.continue_rollback {
        OnRollbackFailed::Continue {
            skip: args.skip_resources.clone(),
        }
    } else if console.interactive() {
        OnRollbackFailed::Ask
    } else {
        OnRollbackFailed::Stop
    };
    let config = crate::aws::sdk_config(&plan.settings).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let client = aws_sdk_cloudformation::Client::new(&config);

    let existing = settle(&client, name, poll, &on_rollback_failed, console).await?;
    let create = existing.is_none();
    let email = match (&plan.email, &existing) {
        (Some(address), _) => address.clone(),
        (None, Some(stack)) => {
            stack_parameter(stack, ids::param::NOTIFICATION_EMAIL).unwrap_or_default()
        }
        (None, None) => return Err(Error::EmailRequired(name.clone())),
    };

    if plan.shape.reserve_concurrency {
        let lambda = aws_sdk_lambda::Client::new(&config);
        match check_concurrency(&lambda, &client, existing.as_ref(), &region).await {
            // A role without lambda:GetAccountSettings (or an emulator
            // without it) can still deploy: say what to do if Lambda refuses.
            Err(Error::AccountSettings(why)) => eprintln!(
                "warning: cannot check the account's Lambda concurrency ({why}); if the deploy then fails on the approval function's ReservedConcurrentExecutions, deploy again with --no-reserved-concurrency"
            ),
            other => other?,
        }
    }
    let zips = zips(args, plan.arch, plan.local)?;
    let store = artifact_store(args, plan, &config, &region).await?;
    let fingerprint = crate::deploy::fingerprint(&plan.template_hash, &email, &store.bucket, &zips);
    if let Some(stack) = &existing {
        if tag(stack, FINGERPRINT_TAG).as_deref() == Some(fingerprint.as_str()) {
            return Ok(Report::unchanged(
                name,
                0,
                outputs(stack),
                "no changes: the stack already runs this template and code",
            ));
        }
    }

    store.ensure_bucket().await?;
    let assets = store
        .upload_stack(zips, plan.template.clone(), &plan.template_hash)
        .await?;
    let uploaded = assets.uploaded;
    let request = change_set_request(plan, create, &fingerprint, &email, &store.bucket, assets);
    let prepared = changeset::prepare(&client, request, poll)
        .await
        .map_err(|e| plan.stack_error(e))?;
    let (change_set, changes) = match prepared {
        Prepared::NoChanges => {
            return Ok(Report::unchanged(
                name,
                uploaded,
                existing.as_ref().map(outputs).unwrap_or_default(),
                "no changes: CloudFormation found nothing to update",
            ));
        }
        Prepared::Ready { id, changes } => (id, changes),
    };
    eprintln!(
        "{} stack {name} in {region}: {} change(s)",
        if create { "creating" } else { "updating" },
        changes.len()
    );
    for change in &changes {
        eprintln!("{}", change.line());
    }
    let action = if create { "create" } else { "update" };
    let mut report = Report {
        stack_name: name.clone(),
        action,
        changes,
        executed: false,
        uploaded,
        outputs: Default::default(),
        seeded: None,
        subscriptions: Vec::new(),
        summary: format!("change set {change_set} created and not executed"),
    };
    if args.no_execute {
        return Ok(report);
    }
    confirm(console, args.yes, &report.changes, &change_set)?;

    let executed = changeset::execute(&client, name, &change_set, action, poll, || {
        started.set(true)
    })
    .await
    .map_err(|e| plan.stack_error(e))?;
    let final_stack = executed.stack;
    if let Some((status, hint)) = changeset::unfinished(&final_stack) {
        return Err(Error::Failed {
            stack: name.clone(),
            status,
            failures: executed.failures,
            hint: hint.to_owned(),
        });
    }
    if !args.no_seed {
        report.seeded = Some(seed_catalog(plan, &config, &client).await?);
    }
    report.executed = true;
    report.outputs = outputs(&final_stack);
    report.subscriptions =
        crate::deploy::subscriptions::states(&aws_sdk_sns::Client::new(&config), &final_stack)
            .await;
    report.summary = format!(
        "stack {name}: {}",
        final_stack
            .stack_status()
            .map(|s| s.as_str())
            .unwrap_or_default()
    );
    Ok(report)
}

/// Stops before any change, with the ways out, when the functions'
/// reserved concurrency would leave the account fewer than
/// [`MIN_UNRESERVED`] unreserved executions: CloudFormation would fail the
/// function and roll the whole stack back. What the stack's functions
/// already reserve is counted as theirs.
pub async fn check_concurrency(
    lambda: &aws_sdk_lambda::Client,
    cloudformation: &aws_sdk_cloudformation::Client,
    existing: Option<&Stack>,
    region: &str,
) -> Result<(), Error> {
    let reserving: Vec<_> = functions::ALL
        .iter()
        .filter_map(|f| Some((f, i64::from(f.reserved_concurrency?))))
        .collect();
    if reserving.is_empty() {
        return Ok(());
    }
    let settings = lambda
        .get_account_settings()
        .send()
        .await
        .map_err(|e| Error::AccountSettings(crate::aws::error::text(&e)))?;
    let Some(limit) = settings.account_limit() else {
        return Err(Error::AccountSettings(
            "the answer has no AccountLimit".into(),
        ));
    };
    let unreserved = i64::from(limit.unreserved_concurrent_executions().unwrap_or_default());
    let mut extra = 0;
    for (function, wanted) in &reserving {
        let held = match existing.and_then(|s| s.stack_id()) {
            Some(stack_id) => held_reservation(lambda, cloudformation, stack_id, function).await,
            None => 0,
        };
        extra += (wanted - held).max(0);
    }
    let left = unreserved - extra;
    if extra > 0 && left < MIN_UNRESERVED {
        return Err(Error::ConcurrencyTooLow {
            region: region.to_owned(),
            unreserved,
            quota: i64::from(limit.concurrent_executions()),
            extra,
            left,
            functions: reserving
                .iter()
                .map(|(f, n)| format!("{} ({n})", f.package))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

/// The reservation a deployed function of the stack already holds (0 when
/// it has none or cannot be found: the check then errs on the safe side).
async fn held_reservation(
    lambda: &aws_sdk_lambda::Client,
    cloudformation: &aws_sdk_cloudformation::Client,
    stack_id: &str,
    function: &functions::FunctionSpec,
) -> i64 {
    let Ok(resource) = cloudformation
        .describe_stack_resource()
        .stack_name(stack_id)
        .logical_resource_id(function.logical_id)
        .send()
        .await
    else {
        return 0;
    };
    let Some(name) = resource
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id())
    else {
        return 0;
    };
    lambda
        .get_function_concurrency()
        .function_name(name)
        .send()
        .await
        .ok()
        .and_then(|c| c.reserved_concurrent_executions())
        .map_or(0, i64::from)
}

/// Where the zips and the template go: `--artifact-bucket`, the config
/// file's, or the account's own bucket for the region.
async fn artifact_store(
    args: &DeployArgs,
    plan: &Plan,
    config: &aws_config::SdkConfig,
    region: &str,
) -> Result<ArtifactStore, Error> {
    let account = assets::account_id(config).await?;
    Ok(ArtifactStore {
        s3: assets::s3_client(config),
        bucket: args
            .artifact_bucket
            .clone()
            .or_else(|| plan.settings.artifact_bucket.clone())
            .unwrap_or_else(|| assets::bucket_name(&account, region)),
        region: region.to_owned(),
        owner: account,
    })
}

/// The change set for the uploaded `assets`, tagged with the fingerprint
/// that lets the next deploy see it has nothing to do.
fn change_set_request<'a>(
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
async fn seed_catalog(
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

fn outputs(stack: &Stack) -> serde_json::Map<String, serde_json::Value> {
    stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().into(),
            )
        })
        .collect()
}

impl crate::output::Report for Report {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.summary)?;
        if let Some(seeded) = &self.seeded {
            writeln!(
                out,
                "catalog: {} product(s) added, {} already there",
                seeded.added, seeded.kept
            )?;
        }
        let width = self.outputs.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in &self.outputs {
            writeln!(
                out,
                "  {key:<width$}  {}",
                value.as_str().unwrap_or_default()
            )?;
        }
        crate::deploy::subscriptions::write(&self.subscriptions, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::Scripted;
    use crate::exit::ExitCode;
    use aws_sdk_cloudformation::types::{ChangeAction, Replacement};

    fn change(action: ChangeAction, replacement: Option<Replacement>) -> Change {
        Change {
            action: action.as_str().into(),
            logical_id: "Queue".into(),
            resource_type: "AWS::SQS::Queue".into(),
            replacement: replacement.map(|r| r.as_str().into()),
        }
    }

    #[test]
    fn off_a_terminal_only_harmless_changes_run_without_yes() {
        let harmless = [
            change(ChangeAction::Add, None),
            change(ChangeAction::Modify, Some(Replacement::False)),
        ];
        let mut console = Scripted::unattended();
        confirm(&mut console, false, &harmless, "cs").unwrap();
        assert!(console.asked.is_empty());
        for destructive in [
            change(ChangeAction::Remove, None),
            change(ChangeAction::Modify, Some(Replacement::True)),
        ] {
            let error =
                confirm(&mut Scripted::unattended(), false, &[destructive], "cs").unwrap_err();
            assert!(matches!(error, Error::NeedsYes), "{error}");
            assert_eq!(error.exit_code(), crate::exit::USAGE);
            confirm(&mut Scripted::unattended(), true, &harmless, "cs").unwrap();
        }
    }

    #[test]
    fn on_a_terminal_every_change_set_is_asked_about() {
        let harmless = [change(ChangeAction::Add, None)];
        let mut console = Scripted::answering(&["y"]);
        confirm(&mut console, false, &harmless, "cs").unwrap();
        assert_eq!(console.asked, ["Execute these changes? [y/N] "]);
        let error =
            confirm(&mut Scripted::answering(&["n"]), false, &harmless, "cs-1").unwrap_err();
        assert!(
            matches!(&error, Error::NotConfirmed(id) if id == "cs-1"),
            "{error}"
        );
        let mut console = Scripted::answering(&[]);
        confirm(&mut console, true, &harmless, "cs").unwrap();
        assert!(console.asked.is_empty(), "--yes asks nothing");
    }

    #[test]
    fn emails_are_checked_like_the_template_does() {
        assert!(valid_email("ops@example.com"));
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "o ps@example.com",
            "ops@.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
