//! `invctl status` and `invctl destroy` against moto.

mod util;

use std::process::{Command, Output};

use serde_json::Value;
use testkit::{unique, Moto};

const SMALL_TEMPLATE: &str = r#"{
  "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
  "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}
}"#;

fn invctl(moto: &Moto, args: &[&str]) -> Output {
    util::run(util::invctl_on(&moto.endpoint).args(args))
}

async fn create_stack(moto: &Moto) -> String {
    let name = unique("stack");
    let config = moto.sdk_config().await;
    aws_sdk_cloudformation::Client::new(&config)
        .create_stack()
        .stack_name(&name)
        .template_body(SMALL_TEMPLATE)
        .send()
        .await
        .unwrap();
    name
}

async fn exists(moto: &Moto, name: &str) -> bool {
    let config = moto.sdk_config().await;
    let client = aws_sdk_cloudformation::Client::new(&config);
    invctl::deploy::stack::describe(&client, name)
        .await
        .unwrap()
        .is_some_and(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"))
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_the_stack_and_its_outputs() {
    let moto = Moto::shared();
    let name = create_stack(moto).await;
    let output = invctl(moto, &["status", "--stack-name", &name, "--output", "json"]);
    assert!(output.status.success(), "{}", util::text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["stackName"], name.as_str());
    assert_eq!(report["region"], testkit::REGION);
    assert_eq!(report["status"], "CREATE_COMPLETE");
    assert!(report["outputs"]["QueueUrl"]
        .as_str()
        .unwrap()
        .contains("/123456789012/"));

    let text = invctl(moto, &["status", "--stack-name", &name]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("status    CREATE_COMPLETE"), "{text}");
    assert!(text.contains("QueueUrl"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_a_missing_stack_says_how_to_create_it() {
    let moto = Moto::shared();
    let output = invctl(moto, &["status", "--stack-name", "never-deployed"]);
    assert_eq!(output.status.code(), Some(invctl::exit::NOT_DEPLOYED));
    assert!(
        util::text(&output).contains(
            "stack never-deployed does not exist in us-east-1; deploy it first with `invctl deploy --email ADDRESS`"
        ),
        "{}",
        util::text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_needs_yes_off_a_terminal_then_deletes() {
    let moto = Moto::shared();
    let name = create_stack(moto).await;

    let refused = invctl(moto, &["destroy", "--stack-name", &name]);
    assert_eq!(refused.status.code(), Some(invctl::exit::USAGE));
    assert!(
        util::text(&refused).contains("pass --yes"),
        "{}",
        util::text(&refused)
    );
    assert!(
        exists(moto, &name).await,
        "nothing is deleted without confirmation"
    );

    let deleted = invctl(moto, &["destroy", "--yes", "--stack-name", &name]);
    assert!(deleted.status.success(), "{}", util::text(&deleted));
    assert!(String::from_utf8_lossy(&deleted.stdout).contains(&format!("stack {name} deleted")));
    assert!(!exists(moto, &name).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn destroying_a_missing_stack_is_a_message_not_an_error() {
    let moto = Moto::shared();
    let output = invctl(
        moto,
        &["destroy", "--yes", "--stack-name", "never-deployed"],
    );
    assert!(output.status.success(), "{}", util::text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "stack never-deployed does not exist in us-east-1; nothing to destroy\n"
    );
}

#[test]
fn an_unreachable_endpoint_is_a_clear_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .args([
                "status",
                "--endpoint-url",
                &format!("http://127.0.0.1:{port}"),
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_MAX_ATTEMPTS", "1"),
    );
    assert_eq!(output.status.code(), Some(1));
    let text = util::text(&output);
    assert!(
        text.starts_with("error: cannot read stack inventory:"),
        "{text}"
    );
    assert!(
        text.contains("onnect"),
        "the cause names the connection: {text}"
    );
}

#[test]
fn bad_settings_are_named() {
    let output = util::run(Command::new(assert_cmd::cargo::cargo_bin("invctl")).args([
        "status",
        "--stack-name",
        "9lives",
    ]));
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(util::text(&output).contains("stack name '9lives' is not valid"));
}

#[test]
fn a_bad_region_is_named_before_any_request() {
    let output = util::run(Command::new(assert_cmd::cargo::cargo_bin("invctl")).args([
        "deploy",
        "--region",
        "us-easst1",
        "--email",
        "ops@example.com",
        "--skip-build",
    ]));
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(
        util::text(&output).contains("'us-easst1' is not an AWS region name"),
        "{}",
        util::text(&output)
    );
}
