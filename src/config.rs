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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

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
    #[error("environment '{name}' is not in {path} (it has: {known})")]
    UnknownEnvironment {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("--env {0} needs a settings file, and there is none")]
    EnvironmentWithoutFile(String),
    #[error("stack name '{0}' is not valid: 1 to 128 letters, digits and hyphens, starting with a letter")]
    BadStackName(String),
    #[error("'{0}' is not an AWS region name (like us-east-1 or eu-west-2)")]
    BadRegion(String),
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
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
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

impl Settings {
    /// Resolves flags over the file (explicit `--config`, else
    /// `./invctl.toml` when present) over defaults.
    pub fn resolve(args: &AwsArgs) -> Result<Settings, ConfigError> {
        let path = args.config.clone().or_else(|| {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            default.is_file().then_some(default)
        });
        let file = path.as_deref().map(load_file).transpose()?;
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
        let region = args.region.clone().or(section.region);
        if let Some(region) = region.as_deref().filter(|r| !valid_region(r)) {
            return Err(ConfigError::BadRegion(region.to_owned()));
        }
        Ok(Settings {
            stack_name,
            region,
            profile: args.profile.clone().or(section.profile),
            endpoint_url: args.endpoint_url.clone().or(section.endpoint_url),
            email: section.email,
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
}
