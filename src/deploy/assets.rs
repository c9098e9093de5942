//! The artifact bucket: one per account and region, created on first use
//! (encrypted, public access blocked), holding Lambda zips and templates
//! under content-addressed keys, so an asset already there is never sent
//! again.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetError {
    #[error("cannot find the account: {0}")]
    Account(String),
    #[error("bucket {0} exists but belongs to another account; set another name")]
    Foreign(String),
    #[error("cannot prepare bucket {bucket}: {message}")]
    Bucket { bucket: String, message: String },
    #[error("cannot upload s3://{bucket}/{key}: {message}")]
    Upload {
        bucket: String,
        key: String,
        message: String,
    },
}

/// The bucket of an account and region: stable, and never shared by two.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("invctl-artifacts-{account}-{region}")
}

/// Key of a function's zip: its package and the zip's sha256.
pub fn function_key(package: &str, sha256: &str) -> String {
    format!("functions/{package}/{sha256}.zip")
}

/// Key of a template: its sha256.
pub fn template_key(sha256: &str) -> String {
    format!("templates/{sha256}.yaml")
}

/// The S3 client for `config`: path-style addressing when the endpoint is
/// overridden, since an emulator on `localhost` has no per-bucket host names.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The account the credentials belong to.
pub async fn account_id(config: &aws_config::SdkConfig) -> Result<String, AssetError> {
    aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AssetError::Account(crate::aws::error_text(&e)))?
        .account
        .ok_or_else(|| AssetError::Account("STS returned no account".into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Created (a bucket) or uploaded (an object).
    New,
    /// Already there: nothing sent.
    Existing,
}

pub struct ArtifactStore {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub region: String,
}

impl ArtifactStore {
    fn bucket_error<E, R>(&self, e: aws_sdk_s3::error::SdkError<E, R>) -> AssetError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        AssetError::Bucket {
            bucket: self.bucket.clone(),
            message: crate::aws::error_text(&e),
        }
    }

    /// Creates the bucket unless it exists: encrypted at rest with S3-managed
    /// keys, and with every form of public access blocked.
    pub async fn ensure_bucket(&self) -> Result<Outcome, AssetError> {
        match self.s3.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(Outcome::Existing),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(AssetError::Foreign(self.bucket.clone()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(self.bucket_error(e)),
        }
        let mut create = self.s3.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that refuses a location constraint.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        create.send().await.map_err(|e| self.bucket_error(e))?;
        self.s3
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.bucket_error(e))?;
        self.s3
            .put_bucket_encryption()
            .bucket(&self.bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()
                                    .expect("the algorithm is set"),
                            )
                            .build(),
                    )
                    .build()
                    .expect("a rule is set"),
            )
            .send()
            .await
            .map_err(|e| self.bucket_error(e))?;
        Ok(Outcome::New)
    }

    /// Uploads `bytes` under `key` unless an object is there already (keys
    /// are content hashes, so an existing one holds these very bytes).
    pub async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<Outcome, AssetError> {
        let upload_error = |message: String| AssetError::Upload {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message,
        };
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => return Ok(Outcome::Existing),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(upload_error(crate::aws::error_text(&e))),
        }
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| upload_error(crate::aws::error_text(&e)))?;
        Ok(Outcome::New)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_are_stable_and_fit_s3() {
        let bucket = bucket_name("123456789012", "ap-southeast-2");
        assert_eq!(bucket, "invctl-artifacts-123456789012-ap-southeast-2");
        assert!(bucket.len() <= 63);
        assert_eq!(
            function_key("approval", "ab12"),
            "functions/approval/ab12.zip"
        );
        assert_eq!(template_key("cd34"), "templates/cd34.yaml");
    }
}
