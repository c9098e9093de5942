//! What every function of the stack shares: one HTTPS client for the AWS
//! SDK, the SDK configuration from the Lambda environment, JSON logs, and
//! required environment variables with a clear error when one is missing.

mod workflow;

pub use workflow::{StartError, StartMode, WorkflowStarter};

pub use aws_types::SdkConfig;

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_types::region::Region;

/// Bounds on every AWS call a function makes: a request that hangs fails
/// (and its caller or event source retries) instead of holding the
/// function until its own timeout, where a half-done handler dies with no
/// say in what happens next.
pub fn call_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(4))
        .operation_timeout(Duration::from_secs(10))
        .build()
}

/// The longest a synchronous workflow execution runs: the workflows'
/// `TimeoutSeconds`, with a margin for the call itself.
pub const WORKFLOW_CALL_TIMEOUT: Duration = Duration::from_secs(70);

/// How often a workflow start is tried before its item is reported failed.
/// A burst meets StartSyncExecution's throttling; the SDK's default three
/// attempts leave one call in a hundred or so failing at a 20 % throttle
/// rate, and a failed item waits out the queue's whole visibility timeout
/// (minutes) before it is tried again. Six attempts with the SDK's jittered
/// back-off (at most 20 s between them) ride such a throttle out.
pub const WORKFLOW_START_ATTEMPTS: u32 = 6;

/// The retry policy of [`workflow_client`].
pub fn workflow_retry() -> aws_sdk_sfn::config::retry::RetryConfig {
    aws_sdk_sfn::config::retry::RetryConfig::standard().with_max_attempts(WORKFLOW_START_ATTEMPTS)
}

/// A Step Functions client whose calls may last as long as a synchronous
/// EXPRESS execution (StartSyncExecution answers when the execution ends).
pub fn workflow_client(config: &SdkConfig) -> aws_sdk_sfn::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(WORKFLOW_CALL_TIMEOUT)
        .operation_timeout(WORKFLOW_CALL_TIMEOUT)
        .build();
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(config)
            .timeout_config(timeouts)
            .retry_config(workflow_retry())
            .build(),
    )
}

/// The SDK's HTTPS client on rustls with ring (see the workspace manifest),
/// resolving names with [`HostPrefixResolver`].
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_with_resolver(HostPrefixResolver)
}

/// Resolves names as the system does, except one that an operation's
/// modelled host prefix made out of a loopback endpoint: every AWS SDK
/// sends StartSyncExecution to `sync-<host>`, even for a custom endpoint,
/// and `sync-127.0.0.1` names nothing. Such a name is resolved without its
/// prefix. Real AWS names (`sync-states.<region>.amazonaws.com`) are left
/// alone, so nothing changes against AWS, and no setting is needed for a
/// local endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostPrefixResolver;

/// The name to look up for `host` (see [`HostPrefixResolver`]).
pub fn unprefixed_host(host: &str) -> &str {
    match host.split_once('-') {
        Some((_prefix, rest))
            if rest.parse::<std::net::IpAddr>().is_ok() || rest == "localhost" =>
        {
            rest
        }
        _ => host,
    }
}

impl ResolveDns for HostPrefixResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        let name = unprefixed_host(name).to_owned();
        DnsFuture::new(async move {
            use std::net::ToSocketAddrs;
            match tokio::task::spawn_blocking(move || (name, 0).to_socket_addrs()).await {
                Err(join) => Err(ResolveDnsError::new(std::io::Error::other(join))),
                Ok(Err(lookup)) => Err(ResolveDnsError::new(lookup)),
                Ok(Ok(addresses)) => Ok(addresses.map(|a| a.ip()).collect()),
            }
        })
    }
}

/// The SDK configuration from what Lambda puts in the environment: region,
/// and the execution role's credentials (valid for the life of the
/// execution environment). `AWS_ENDPOINT_URL` is honoured for local runs.
/// Built directly rather than through aws-config, whose credential chain
/// (profiles, SSO, STS, IMDS) a function never needs and which would double
/// the size of every zip.
pub fn sdk_config() -> Result<SdkConfig, MissingEnv> {
    sdk_config_from(|name| std::env::var(name).ok())
}

/// [`sdk_config`] with the variables looked up by `lookup`.
pub fn sdk_config_from(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, MissingEnv> {
    let required = |name: &'static str| {
        lookup(name)
            .filter(|v| !v.is_empty())
            .ok_or(MissingEnv(name))
    };
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        lookup("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
        .region(Region::new(required("AWS_REGION")?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .timeout_config(call_timeouts())
        .http_client(https_client());
    if let Ok(endpoint) = required("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

/// The log level for a `RUST_LOG` value: `error`, `warn`, `info` (the
/// default), or `debug`. `trace` is taken as `debug`: at trace the Lambda
/// runtime logs every raw event, and events carry task tokens and the
/// approval link's secret.
pub fn log_level(rust_log: Option<&str>) -> tracing::Level {
    let level = rust_log
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    level.min(tracing::Level::DEBUG)
}

/// JSON log lines to stdout, which Lambda ships to the function's log group,
/// at the level [`log_level`] gives for `RUST_LOG`.
pub fn init_logging() {
    let level = log_level(std::env::var("RUST_LOG").ok().as_deref());
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
    fn only_prefixes_on_loopback_endpoints_are_dropped() {
        assert_eq!(unprefixed_host("sync-127.0.0.1"), "127.0.0.1");
        assert_eq!(unprefixed_host("sync-localhost"), "localhost");
        assert_eq!(unprefixed_host("sync-::1"), "::1");
        for kept in [
            "sync-states.us-east-1.amazonaws.com",
            "states.us-east-1.amazonaws.com",
            "127.0.0.1",
            "localhost",
            "my-host.example.com",
        ] {
            assert_eq!(unprefixed_host(kept), kept);
        }
    }

    #[test]
    fn trace_is_capped_at_debug_so_raw_events_are_never_logged() {
        assert_eq!(log_level(Some("trace")), tracing::Level::DEBUG);
        assert_eq!(log_level(Some("TRACE")), tracing::Level::DEBUG);
        assert_eq!(log_level(Some("debug")), tracing::Level::DEBUG);
        assert_eq!(log_level(Some("warn")), tracing::Level::WARN);
        assert_eq!(log_level(None), tracing::Level::INFO);
        assert_eq!(log_level(Some("chatty")), tracing::Level::INFO);
    }

    fn lambda_environment(endpoint: String) -> impl Fn(&str) -> Option<String> {
        move |name| match name {
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
            "AWS_REGION" => Some("us-east-1".into()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        }
    }

    /// An endpoint that accepts connections and never answers: the call
    /// must end with a timeout error instead of hanging the function.
    #[tokio::test]
    async fn a_call_that_gets_no_answer_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let config = sdk_config_from(lambda_environment(endpoint)).unwrap();
        assert_eq!(config.timeout_config(), Some(&call_timeouts()));
        let call = aws_sdk_sfn::Client::new(&config)
            .list_state_machines()
            .send();
        // Only a guard against a hang: the SDK's own timeout ends it first.
        let outcome = tokio::time::timeout(Duration::from_secs(120), call)
            .await
            .expect("the SDK's timeout ended the call");
        let error = outcome.unwrap_err();
        assert!(
            matches!(error, aws_sdk_sfn::error::SdkError::TimeoutError(_)),
            "{error:?}"
        );
        drop(listener);
    }

    #[test]
    fn workflow_calls_may_last_as_long_as_a_synchronous_execution() {
        let config = sdk_config_from(lambda_environment("http://127.0.0.1:9".into())).unwrap();
        let client = workflow_client(&config);
        assert_eq!(
            client
                .config()
                .timeout_config()
                .unwrap()
                .operation_timeout(),
            Some(WORKFLOW_CALL_TIMEOUT)
        );
        // Throttled starts are ridden out (see WORKFLOW_START_ATTEMPTS).
        assert_eq!(
            client.config().retry_config().unwrap().max_attempts(),
            WORKFLOW_START_ATTEMPTS
        );
    }

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
