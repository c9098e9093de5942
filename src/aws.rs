//! AWS settings for the commands that talk to AWS: the standard chain
//! (environment, profiles, SSO, credential processes, `AWS_ENDPOINT_URL`)
//! under the `--region`, `--profile` and `--endpoint-url` flags and the
//! config file.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::Settings;

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
    loader.load().await
}
