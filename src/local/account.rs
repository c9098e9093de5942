//! The account the local cloud is: its region, and the credentials
//! invctl's own requests to it are signed with.

/// The region and account the local cloud answers for.
pub const REGION: &str = "us-east-1";
/// Credentials every request of invctl's own to the local cloud is signed
/// with (the cloud takes them as the account's administrator).
pub const ACCESS_KEY: &str = "local";
pub const SECRET_KEY: &str = "local";

pub fn credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "invctl-local")
}

/// The SDK configuration for the local cloud at `endpoint`.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials()),
        )
        .endpoint_url(endpoint)
        .http_client(lambda_support::https_client())
        .build()
}
