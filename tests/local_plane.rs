//! The execution plane on its own: functions that answer, crash, or run
//! past their timeout, through the Lambda Runtime API as a real runtime
//! uses it. The "functions" are small Python programs speaking that API.

use std::time::Duration;

use bytes::Bytes;
use invctl::local::console::Console;
use invctl::local::plane::{FunctionConfig, Outcome, Plane};

/// A runtime loop in Python: takes each invocation and does `behaviour`
/// with it (`echo`, `crash`, or `crash-once` / `hang-once` / `bloat-once`:
/// crash, hang, or fill 200 MB and hold it, on the first invocation; echo
/// after).
const RUNTIME: &str = r#"import json, os, sys, time, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
behaviour = sys.argv[1]
marker = sys.argv[2]
while True:
    with urllib.request.urlopen(api + "/2018-06-01/runtime/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        assert r.headers["Lambda-Runtime-Deadline-Ms"]
        assert r.headers["Lambda-Runtime-Invoked-Function-Arn"]
        event = r.read()
    if behaviour == "crash" or (behaviour == "crash-once" and not os.path.exists(marker)):
        open(marker, "w").close()
        os._exit(3)
    if behaviour == "bloat-once" and not os.path.exists(marker):
        open(marker, "w").close()
        held = b"x" * (200 * 1024 * 1024)
        time.sleep(10)
    if behaviour == "hang-once" and not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(600)
    body = json.dumps({"echo": json.loads(event), "env": os.environ.get("GREETING")}).encode()
    urllib.request.urlopen(urllib.request.Request(
        api + "/2018-06-01/runtime/invocation/" + request_id + "/response", data=body, method="POST"))
"#;

fn function(dir: &std::path::Path, name: &str, behaviour: &str, timeout: u64) -> FunctionConfig {
    let script = dir.join(format!("{name}.py"));
    std::fs::write(&script, RUNTIME).unwrap();
    let bootstrap = dir.join(name);
    std::fs::write(
        &bootstrap,
        format!(
            "#!/bin/sh\nexec python3 {} {behaviour} {}\n",
            script.display(),
            dir.join(format!("{name}.crashed")).display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    FunctionConfig {
        name: name.to_owned(),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
        environment: vec![("GREETING".to_owned(), "hello".to_owned())],
        timeout: Duration::from_secs(timeout),
        memory_mb: 128,
        code_sha256: "test".to_owned(),
        bootstrap,
        log_group: format!("/aws/lambda/{name}"),
    }
}

async fn plane() -> Plane {
    Plane::start(
        "http://127.0.0.1:9",
        Console::new(Box::new(std::io::sink())),
        std::env::temp_dir().join("invctl-local-plane-outbox.jsonl"),
    )
    .await
    .unwrap()
}

fn error_of(outcome: Option<Outcome>) -> serde_json::Value {
    match outcome {
        Some(Outcome::Error { kind, body }) => {
            assert_eq!(kind, "Unhandled");
            serde_json::from_slice(&body).unwrap()
        }
        other => panic!("expected a function error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_gets_the_functions_answer_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let plane = plane().await;
    plane.load(function(dir.path(), "echo", "echo", 10));
    let outcome = plane.invoke("echo", Bytes::from(r#"{"n":1}"#)).await;
    let Some(Outcome::Response(body)) = outcome else {
        panic!("{outcome:?}");
    };
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"echo": {"n": 1}, "env": "hello"})
    );
    assert!(plane.invoke("nonesuch", Bytes::new()).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_is_a_function_error_and_the_next_invocation_runs_anew() {
    let dir = tempfile::tempdir().unwrap();
    let plane = plane().await;
    plane.load(function(dir.path(), "flaky", "crash-once", 10));
    let error = error_of(plane.invoke("flaky", Bytes::from("{}")).await);
    assert_eq!(error["errorType"], "Runtime.ExitError");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("exit status: 3"),
        "{error}"
    );
    // Retried, as an event source would: a fresh instance answers.
    let retried = plane
        .invoke("flaky", Bytes::from(r#"{"again":true}"#))
        .await;
    assert!(matches!(retried, Some(Outcome::Response(_))), "{retried:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_past_the_timeout_fails_as_lambda_says_and_the_instance_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let plane = plane().await;
    plane.load(function(dir.path(), "slow", "hang-once", 1));
    let error = error_of(plane.invoke("slow", Bytes::from("{}")).await);
    assert_eq!(error["errorType"], "Sandbox.Timedout");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds"),
        "{error}"
    );
    // The hung instance was stopped: the next invocation gets a fresh one.
    let next = plane.invoke("slow", Bytes::from("{}")).await;
    assert!(matches!(next, Some(Outcome::Response(_))), "{next:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_above_its_memory_setting_is_stopped_with_lambdas_error() {
    let dir = tempfile::tempdir().unwrap();
    let plane = plane().await;
    // 128 MB, 30 s timeout: only the memory watch can end the first call early.
    plane.load(function(dir.path(), "greedy", "bloat-once", 30));
    let error = error_of(plane.invoke("greedy", Bytes::from("{}")).await);
    assert_eq!(error["errorType"], "Runtime.OutOfMemory", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("of its 128 MB"),
        "{error}"
    );
    let next = plane.invoke("greedy", Bytes::from("{}")).await;
    assert!(matches!(next, Some(Outcome::Response(_))), "{next:?}");
}
