//! What every function of the stack shares: one HTTPS client for the AWS
//! SDK, the SDK configuration from the Lambda environment, JSON logs, and
//! required environment variables with a clear error when one is missing.

mod workflow;

pub use workflow::{StartError, StartMode, WorkflowStarter};

pub use aws_types::SdkConfig;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_types::region::Region;

/// The SDK's HTTPS client on rustls with ring (see the workspace manifest).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration from what Lambda puts in the environment: region,
/// and the execution role's credentials (valid for the life of the
/// execution environment). `AWS_ENDPOINT_URL` is honoured for local runs.
/// Built directly rather than through aws-config, whose credential chain
/// (profiles, SSO, STS, IMDS) a function never needs and which would double
/// the size of every zip.
pub fn sdk_config() -> Result<SdkConfig, MissingEnv> {
    let credentials = Credentials::new(
        env("AWS_ACCESS_KEY_ID")?,
        env("AWS_SECRET_ACCESS_KEY")?,
        std::env::var("AWS_SESSION_TOKEN").ok(),
        None,
        "lambda-environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
        .region(Region::new(env("AWS_REGION")?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client());
    if let Ok(endpoint) = env("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

/// JSON log lines to stdout, which Lambda ships to the function's log group;
/// the level comes from `RUST_LOG` (`error`, `warn`, `info` (default), `debug`, `trace`).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .without_time()
        .with_target(false)
        .with_current_span(false)
        .init();
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("environment variable {0} is not set; the stack's template sets it")]
pub struct MissingEnv(pub &'static str);

/// A required environment variable.
pub fn env(name: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(MissingEnv(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_named() {
        assert_eq!(
            env("INVCTL_SURELY_UNSET_VARIABLE"),
            Err(MissingEnv("INVCTL_SURELY_UNSET_VARIABLE"))
        );
        assert_eq!(
            MissingEnv("STATE_MACHINE_ARN").to_string(),
            "environment variable STATE_MACHINE_ARN is not set; the stack's template sets it"
        );
    }
}
