//! The artifact bucket against moto: created once, locked down, and assets
//! sent only when they are not there yet.

use invctl::deploy::assets::{self, ArtifactStore, Outcome};
use testkit::{unique, Moto};

#[tokio::test(flavor = "multi_thread")]
async fn the_bucket_is_created_once_encrypted_and_private() {
    let config = Moto::shared().sdk_config().await;
    assert_eq!(assets::account_id(&config).await.unwrap(), testkit::ACCOUNT);
    let store = ArtifactStore {
        s3: assets::s3_client(&config),
        bucket: unique("artifacts"),
        region: testkit::REGION.into(),
    };
    assert_eq!(store.ensure_bucket().await.unwrap(), Outcome::New);
    assert_eq!(store.ensure_bucket().await.unwrap(), Outcome::Existing);

    let encryption = store
        .s3
        .get_bucket_encryption()
        .bucket(&store.bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration
        .unwrap()
        .rules[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default
            .as_ref()
            .unwrap()
            .sse_algorithm
            .as_str(),
        "AES256"
    );
    let block = store
        .s3
        .get_public_access_block()
        .bucket(&store.bucket)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(block.block_public_acls, Some(true));
    assert_eq!(block.block_public_policy, Some(true));
    assert_eq!(block.ignore_public_acls, Some(true));
    assert_eq!(block.restrict_public_buckets, Some(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_asset_already_there_is_not_sent_again() {
    let config = Moto::shared().sdk_config().await;
    let store = ArtifactStore {
        s3: assets::s3_client(&config),
        bucket: unique("artifacts"),
        region: testkit::REGION.into(),
    };
    store.ensure_bucket().await.unwrap();
    let key = assets::function_key("approval", "0123abcd");
    assert_eq!(
        store.upload(&key, b"zip bytes".to_vec()).await.unwrap(),
        Outcome::New
    );
    assert_eq!(
        store.upload(&key, b"zip bytes".to_vec()).await.unwrap(),
        Outcome::Existing
    );
    let object = store
        .s3
        .get_object()
        .bucket(&store.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        b"zip bytes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_an_error_that_names_it() {
    let config = Moto::shared().sdk_config().await;
    let store = ArtifactStore {
        s3: assets::s3_client(&config),
        bucket: unique("never-created"),
        region: testkit::REGION.into(),
    };
    let error = store.upload("k", b"x".to_vec()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot upload s3://{}/k", store.bucket)),
        "{error}"
    );
}
