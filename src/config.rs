//! Settings: command-line flags over an `invctl.toml` file over defaults.
//!
//! ```toml
//! # invctl.toml, like samconfig.toml: shared defaults, then environments.
//! [default]
//! stack_name = "inventory"
//! region = "eu-west-1"
//!
//! [environments.prod]
//! stack_name = "inventory-prod"
//! profile = "prod-admin"
//! ```
//!
//! `--env prod` picks an environment; its keys override `[default]`, and
//! flags override both. Unknown keys are errors, so a typo is not silently
//! ignored.
//!
//! Kept whole: one resolution of settings, from the flags through the file
//! to the checked values, reads best in one place; most of the length is
//! its tests, one per rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::stack::scoped_name::MAX_STACK_NAME_LEN;

pub const DEFAULT_CONFIG_FILE: &str = "invctl.toml";
pub const DEFAULT_STACK_NAME: &str = "inventory";

/// Flags every AWS-facing command takes (before or after the subcommand).
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS region (default: the profile's or AWS_REGION)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config (default: AWS_PROFILE or `default`)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send every AWS request here instead (a local emulator); S3 then uses path-style addressing
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The stack to work on [default: from the config file, else `inventory`]
    #[arg(long, global = true, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// Settings file [default: ./invctl.toml when it exists]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Environment of the settings file to use
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub environment: Option<String>,
    /// Use the local cloud of this workspace (`invctl local up`): its endpoint and throwaway credentials
    #[arg(long, global = true, conflicts_with_all = ["endpoint_url", "profile"])]
    pub local: bool,
    /// Explain AWS failures in full (the SDK's whole account, as with RUST_LOG set)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// One section of the settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub stack_name: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub email: Option<String>,
    /// The S3 bucket deploy keeps its artifacts in, when not the default.
    pub artifact_bucket: Option<String>,
    /// Use the workspace's local cloud, as `--local` does.
    pub local: Option<bool>,
    /// `false` deploys the functions without reserved concurrency, as
    /// `deploy --no-reserved-concurrency` does.
    pub reserved_concurrency: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub default: Section,
    #[serde(default)]
    pub environments: BTreeMap<String, Section>,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub stack_name: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub email: Option<String>,
    pub artifact_bucket: Option<String>,
    pub reserved_concurrency: Option<bool>,
    /// The `./invctl.toml` nobody named that the email came from: approval
    /// links work like passwords, so a checkout someone else wrote must not
    /// redirect them unannounced.
    pub email_from_implicit_file: Option<PathBuf>,
    /// The local cloud in use, with `--local`.
    pub local: Option<crate::local::LocalState>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the settings file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("environment '{name}' is not in {path} ({})", if known.is_empty() { "it defines no environments: add an [environments.NAME] section".to_owned() } else { format!("it has: {known}") })]
    UnknownEnvironment {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("--env {0} needs a settings file, and there is none")]
    EnvironmentWithoutFile(String),
    #[error("stack name '{0}' is not valid: 1 to {max} letters, digits and hyphens, starting with a letter (names derived from it must fit their services' limits, e.g. {{stack}}-order-generator in EventBridge Scheduler's 64 characters)", max = MAX_STACK_NAME_LEN)]
    BadStackName(String),
    #[error(
        "endpoint URL '{url}'{origin} is not valid: {why} (expected e.g. http://127.0.0.1:4566)"
    )]
    BadEndpoint {
        url: String,
        /// Where it came from, when not the command line.
        origin: String,
        why: String,
    },
    #[error("'{0}' is not an AWS region name (like us-east-1 or eu-west-2)")]
    BadRegion(String),
    #[error(transparent)]
    NoLocalCloud(#[from] crate::local::LocalError),
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `eu-central-2`...: lower-case
/// words joined by hyphens, ending in a number. Checked here because a
/// mistyped region otherwise surfaces as an obscure DNS failure.
fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= MAX_STACK_NAME_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Why `url` cannot be an AWS endpoint, if it cannot: checked here because
/// the SDK reports a bad one as a debug dump of its request.
fn endpoint_problem(url: &str) -> Option<String> {
    match url::Url::parse(url) {
        Err(e) => Some(e.to_string()),
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => Some(format!(
            "the scheme must be http or https, not '{}'",
            parsed.scheme()
        )),
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
            Some("it names no host".into())
        }
        Ok(_) => None,
    }
}

impl ConfigError {
    /// Mistakes in what the user wrote (flags or the settings file), as
    /// opposed to a file that cannot be read: exit code 2.
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            ConfigError::Read { .. } | ConfigError::NoLocalCloud(_)
        )
    }

    /// 2 for a usage error, 3 when `--local` finds no local cloud (nothing
    /// is deployed where it points), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::NoLocalCloud(_) => crate::exit::NOT_DEPLOYED,
            e if e.is_usage() => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

fn load_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn checked_endpoint(url: &str, origin: String) -> Result<String, ConfigError> {
    match endpoint_problem(url) {
        Some(why) => Err(ConfigError::BadEndpoint {
            url: url.to_owned(),
            origin,
            why,
        }),
        None => Ok(url.to_owned()),
    }
}

impl Settings {
    /// Resolves flags over the file (explicit `--config`, else
    /// `./invctl.toml` when present) over defaults.
    pub fn resolve(args: &AwsArgs) -> Result<Settings, ConfigError> {
        let path = args.config.clone().or_else(|| {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            default.is_file().then_some(default)
        });
        let file = path.as_deref().map(load_file).transpose()?;
        // A file found in the current folder, not one the user named.
        let implicit_file = args.config.is_none().then_some(path.as_deref()).flatten();
        let mut section = file.as_ref().map(|f| f.default.clone()).unwrap_or_default();
        if let Some(name) = &args.environment {
            let (file, path) = match (&file, &path) {
                (Some(file), Some(path)) => (file, path),
                _ => return Err(ConfigError::EnvironmentWithoutFile(name.clone())),
            };
            let environment =
                file.environments
                    .get(name)
                    .ok_or_else(|| ConfigError::UnknownEnvironment {
                        name: name.clone(),
                        path: path.clone(),
                        known: file
                            .environments
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
            let over = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
            section = Section {
                stack_name: over(&environment.stack_name, &section.stack_name),
                region: over(&environment.region, &section.region),
                profile: over(&environment.profile, &section.profile),
                endpoint_url: over(&environment.endpoint_url, &section.endpoint_url),
                email: over(&environment.email, &section.email),
                artifact_bucket: over(&environment.artifact_bucket, &section.artifact_bucket),
                local: environment.local.or(section.local),
                reserved_concurrency: environment
                    .reserved_concurrency
                    .or(section.reserved_concurrency),
            };
        }
        let stack_name = args
            .stack_name
            .clone()
            .or(section.stack_name)
            .unwrap_or_else(|| DEFAULT_STACK_NAME.to_owned());
        if !valid_stack_name(&stack_name) {
            return Err(ConfigError::BadStackName(stack_name));
        }
        let email_from_implicit_file = implicit_file
            .filter(|_| section.email.is_some())
            .map(Path::to_owned);
        let region = args.region.clone().or(section.region);
        if let Some(region) = region.as_deref().filter(|r| !valid_region(r)) {
            return Err(ConfigError::BadRegion(region.to_owned()));
        }
        let local = if args.local || section.local == Some(true) {
            let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            Some(crate::local::LocalState::running(&here)?)
        } else {
            None
        };
        if let Some(state) = &local {
            return Ok(Settings {
                stack_name,
                region: Some(state.region.clone()),
                profile: None,
                endpoint_url: Some(state.endpoint.clone()),
                email: section.email,
                artifact_bucket: section.artifact_bucket,
                reserved_concurrency: section.reserved_concurrency,
                email_from_implicit_file,
                local,
            });
        }
        let endpoint_url = match (&args.endpoint_url, section.endpoint_url) {
            (Some(flag), _) => Some(checked_endpoint(flag, String::new())?),
            (None, Some(from_file)) => {
                let file = path.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
                let endpoint = checked_endpoint(&from_file, format!(" (from {})", file.display()))?;
                if let Some(file) = implicit_file {
                    // A checkout someone else wrote could send our signed
                    // requests anywhere: say so, every time.
                    eprintln!(
                        "warning: sending every AWS request to {endpoint}, as {} in this folder says (pass --config to name the settings file and silence this)",
                        file.display()
                    );
                }
                Some(endpoint)
            }
            (None, None) => None,
        };
        Ok(Settings {
            stack_name,
            region,
            profile: args.profile.clone().or(section.profile),
            endpoint_url,
            email: section.email,
            artifact_bucket: section.artifact_bucket,
            reserved_concurrency: section.reserved_concurrency,
            email_from_implicit_file,
            local: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    const SAMPLE: &str = r#"
[default]
stack_name = "inventory-dev"
region = "eu-west-1"
email = "ops@example.com"

[environments.prod]
stack_name = "inventory-prod"
profile = "prod"
"#;

    #[test]
    fn flags_override_the_environment_which_overrides_the_default() {
        let f = file(SAMPLE);
        let args = AwsArgs {
            config: Some(f.path().to_owned()),
            environment: Some("prod".into()),
            region: Some("us-west-2".into()),
            ..AwsArgs::default()
        };
        assert_eq!(
            Settings::resolve(&args).unwrap(),
            Settings {
                stack_name: "inventory-prod".into(),
                region: Some("us-west-2".into()),
                profile: Some("prod".into()),
                endpoint_url: None,
                email: Some("ops@example.com".into()),
                artifact_bucket: None,
                reserved_concurrency: None,
                email_from_implicit_file: None,
                local: None,
            }
        );
        let plain = AwsArgs {
            config: Some(f.path().to_owned()),
            ..AwsArgs::default()
        };
        assert_eq!(
            Settings::resolve(&plain).unwrap().stack_name,
            "inventory-dev"
        );
    }

    #[test]
    fn without_a_file_the_stack_is_inventory() {
        let args = AwsArgs::default();
        // The test runs in the package folder, which has no invctl.toml.
        assert_eq!(
            Settings::resolve(&args).unwrap().stack_name,
            DEFAULT_STACK_NAME
        );
    }

    #[test]
    fn regions_are_checked_before_anything_is_sent() {
        for good in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(valid_region(good), "{good}");
        }
        for bad in [
            "useast1",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "not-a-region",
            "",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let typo = file("[default]\nstack_nam = \"x\"\n");
        let error = Settings::resolve(&AwsArgs {
            config: Some(typo.path().to_owned()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("stack_nam"), "{error}");

        let f = file(SAMPLE);
        let error = Settings::resolve(&AwsArgs {
            config: Some(f.path().to_owned()),
            environment: Some("staging".into()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "environment 'staging' is not in {} (it has: prod)",
                f.path().display()
            )
        );

        let error = Settings::resolve(&AwsArgs {
            stack_name: Some("1bad_name".into()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert!(matches!(error, ConfigError::BadStackName(_)));

        let missing = Settings::resolve(&AwsArgs {
            config: Some("/nonexistent/invctl.toml".into()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert!(missing
            .to_string()
            .starts_with("cannot read the settings file /nonexistent/invctl.toml"));
    }

    #[test]
    fn an_unknown_environment_in_a_file_without_any_says_there_are_none() {
        let f = file("[default]\nregion = \"eu-west-1\"\n");
        let error = Settings::resolve(&AwsArgs {
            config: Some(f.path().to_owned()),
            environment: Some("prod".into()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "environment 'prod' is not in {} (it defines no environments: add an [environments.NAME] section)",
                f.path().display()
            )
        );
        assert!(error.is_usage());
    }

    #[test]
    fn stack_names_must_leave_room_for_every_derived_name() {
        let longest = format!("a{}", "b".repeat(MAX_STACK_NAME_LEN - 1));
        let stack = |name: &str| AwsArgs {
            stack_name: Some(name.to_owned()),
            ..AwsArgs::default()
        };
        assert_eq!(
            Settings::resolve(&stack(&longest)).unwrap().stack_name,
            longest
        );
        let error = Settings::resolve(&stack(&format!("{longest}c"))).unwrap_err();
        assert!(matches!(error, ConfigError::BadStackName(_)));
        assert!(error.is_usage());
        // The schedule is the tightest: 64 characters in all.
        assert_eq!(MAX_STACK_NAME_LEN, 64 - "-order-generator".len());
    }

    #[test]
    fn endpoints_are_checked_before_anything_is_sent() {
        for good in [
            "http://127.0.0.1:4566",
            "https://s3.eu-west-1.amazonaws.com",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in ["not a url", "127.0.0.1:4566", "ftp://host", "http://", ""] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
        let error = Settings::resolve(&AwsArgs {
            endpoint_url: Some("not a url".into()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert!(error.is_usage());
        assert!(
            error
                .to_string()
                .starts_with("endpoint URL 'not a url' is not valid: "),
            "{error}"
        );
        let f = file("[default]\nendpoint_url = \"localhost:4566\"\n");
        let error = Settings::resolve(&AwsArgs {
            config: Some(f.path().to_owned()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("(from {})", f.path().display())),
            "{error}"
        );
    }

    #[test]
    fn local_in_a_settings_file_needs_a_running_local_cloud() {
        // Runs in the package folder, where no local cloud runs during tests.
        let f = file("[environments.laptop]\nlocal = true\n");
        let error = Settings::resolve(&AwsArgs {
            config: Some(f.path().to_owned()),
            environment: Some("laptop".into()),
            ..AwsArgs::default()
        })
        .unwrap_err();
        assert!(matches!(error, ConfigError::NoLocalCloud(_)), "{error}");
        assert_eq!(error.exit_code(), crate::exit::NOT_DEPLOYED);
        assert!(error.to_string().contains("invctl local up"), "{error}");
    }
}
