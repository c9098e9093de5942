//! What every function of the stack shares: one HTTPS client for the AWS
//! SDK, the SDK configuration from the Lambda environment, JSON logs, and
//! required environment variables with a clear error when one is missing.

mod workflow;

pub use workflow::{StartError, StartMode, WorkflowStarter};

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The SDK's HTTPS client on rustls with ring (see the workspace manifest).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration from the function's environment (region and
/// credentials Lambda provides; `AWS_ENDPOINT_URL` is honoured for local runs).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// JSON log lines to stdout, which Lambda ships to the function's log group;
/// the level comes from `RUST_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
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
