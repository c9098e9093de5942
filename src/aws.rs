//! AWS settings for the commands that talk to AWS: the standard chain
//! (environment, profiles, SSO, credential processes, `AWS_ENDPOINT_URL`)
//! under the `--region`, `--profile` and `--endpoint-url` flags and the
//! config file.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::Settings;

/// Credentials every request to the local cloud is signed with (moto
/// checks none).
pub const LOCAL_ACCESS_KEY: &str = "local";
pub const LOCAL_SECRET_KEY: &str = "local";

pub fn local_credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        LOCAL_ACCESS_KEY,
        LOCAL_SECRET_KEY,
        None,
        None,
        "invctl-local",
    )
}

/// The SDK configuration for `settings`.
pub async fn sdk_config(settings: &Settings) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(lambda_support::https_client());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if settings.local.is_some() {
        // The local cloud checks no signature: throwaway credentials, so
        // nothing of the user's is sent to it or looked up.
        loader = loader.credentials_provider(local_credentials());
    }
    loader.load().await
}

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A one-line account of a failed AWS request: the service's code and
/// message when it answered, else the transport's cause chain (DNS,
/// connection refused, timeout).
pub fn error_text<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = error {
        let err = service.err();
        return match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            // No AWS error document at all: an endpoint that is not AWS, or broken.
            _ => {
                "the endpoint answered with an error but no AWS error code (is it an AWS endpoint?)"
                    .to_owned()
            }
        };
    }
    DisplayErrorContext(error).to_string()
}
