//! Bad input, run as a user would type it: every case gets a clear,
//! one-line error and the documented exit code, and none panics (exit 101).
//! No AWS endpoint answers here: where a value is accepted, the command
//! goes on to a closed port and fails there, which is fine.

mod util;

use std::process::{Command, Output};

/// An endpoint where nothing listens.
/// invctl run in `dir` (where an `invctl.toml` may wait), with test keys
/// and one attempt per AWS call.
fn in_folder(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .args(args),
    )
}

fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn invctl(args: &[&str]) -> Output {
    util::run(
        util::invctl_on(&closed_endpoint())
            .env("AWS_MAX_ATTEMPTS", "1")
            .args(args),
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn extreme_numbers_never_panic() {
    let values = [
        "0",
        "-1",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999",
    ];
    let commands: [&[&str]; 7] = [
        &["send-order", "--wait", "--timeout"],
        &["watch", "ord-1", "--timeout"],
        &["send-order", "--quantity"],
        &["send-order", "--count"],
        &["scan", "inventory", "--limit"],
        &["executions", "--limit"],
        &["redrive", "orders", "--timeout"],
    ];
    for command in commands {
        for value in values {
            let mut args = command.to_vec();
            args.push(value);
            let output = invctl(&args);
            let text = util::text(&output);
            assert_ne!(
                output.status.code(),
                Some(101),
                "{args:?} panicked:\n{text}"
            );
            assert!(!text.contains("panicked"), "{args:?}:\n{text}");
            assert!(
                output.status.code().is_some(),
                "{args:?} was killed:\n{text}"
            );
        }
    }
    // The case the review found: a timeout past what an Instant can hold.
    let output = invctl(&["watch", "ord-1", "--timeout", "18446744073709551615"]);
    assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
    assert!(stderr(&output).contains("--timeout"), "{}", stderr(&output));
}

#[test]
fn a_stack_name_too_long_for_its_derived_names_is_a_usage_error() {
    let longest = format!("a{}", "b".repeat(47));
    let output = invctl(&["status", "--stack-name", &format!("{longest}c")]);
    assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
    assert!(
        stderr(&output).contains("1 to 48 letters, digits and hyphens"),
        "{}",
        stderr(&output)
    );
    // The longest allowed gets past the check (and fails at the closed port).
    let output = invctl(&["status", "--stack-name", &longest]);
    assert_ne!(output.status.code(), Some(2), "{}", util::text(&output));
}

#[test]
fn an_invoke_event_that_is_not_json_or_not_there_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"Records\": [").unwrap();
    let missing = dir.path().join("missing.json");
    for (path, says) in [(&bad, "is not JSON"), (&missing, "cannot read the event")] {
        // The endpoint is closed: reaching AWS would fail with exit 1 instead.
        let output = invctl(&["invoke", "reserve-stock", "--event", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
        let text = stderr(&output);
        assert!(text.contains(says), "{text}");
        assert!(text.contains(path.to_str().unwrap()), "{text}");
    }
    let output = util::run(
        util::invctl_on(&closed_endpoint())
            .args(["invoke", "approval", "--event", "-"])
            .stdin(std::process::Stdio::null()),
    );
    assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
    assert!(
        stderr(&output).contains("standard input"),
        "{}",
        stderr(&output)
    );
    // A sample of a source that does not feed the function.
    let wrong = invctl(&["invoke", "reserve-stock", "--sample", "stream"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", util::text(&wrong));
    assert!(
        stderr(&wrong).contains("--sample sqs"),
        "{}",
        stderr(&wrong)
    );
    // The event and the sample are one or the other.
    let both = invctl(&["invoke", "approval", "--sample", "--event", "e.json"]);
    assert_eq!(both.status.code(), Some(2), "{}", util::text(&both));
}

#[test]
fn a_bad_endpoint_is_one_line_not_a_request_dump() {
    let output = util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .args(["status", "--endpoint-url", "not a url"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1"),
    );
    assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("error: endpoint URL 'not a url' is not valid:"),
        "{text}"
    );
}

#[test]
fn an_environment_asked_of_a_file_without_any_says_there_are_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("invctl.toml"),
        "[default]\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    let output = util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .current_dir(dir.path())
            .args(["status", "--env", "prod"]),
    );
    assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
    let text = stderr(&output);
    assert!(text.contains("it defines no environments"), "{text}");
    assert!(!text.contains("(it has: )"), "{text}");
}

#[test]
fn an_endpoint_from_a_settings_file_nobody_named_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = closed_endpoint();
    std::fs::write(
        dir.path().join("invctl.toml"),
        format!("[default]\nendpoint_url = \"{endpoint}\"\n"),
    )
    .unwrap();
    let run = |extra: &[&str]| in_folder(dir.path(), &[&["status"], extra].concat());
    let found = run(&[]);
    let text = stderr(&found);
    assert!(
        text.starts_with(&format!("warning: sending every AWS request to {endpoint}")),
        "{text}"
    );
    // Named by the user: no warning.
    let named = run(&["--config", "invctl.toml"]);
    assert!(!stderr(&named).contains("warning:"), "{}", stderr(&named));
}

#[test]
fn an_email_from_a_settings_file_nobody_named_is_announced_by_deploy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("invctl.toml"),
        "[default]\nemail = \"someone@elsewhere.example\"\n",
    )
    .unwrap();
    let endpoint = closed_endpoint();
    let run = |extra: &[&str]| {
        let deploy = ["--endpoint-url", &endpoint, "deploy", "--skip-build"];
        in_folder(dir.path(), &[&deploy[..], extra].concat())
    };
    let found = run(&[]);
    let text = stderr(&found);
    assert!(
        text.starts_with("warning: alerts and approval links (which approve purchase orders like a password) go to someone@elsewhere.example, as invctl.toml in this folder says"),
        "{text}"
    );
    // Named by the user, in the file or on the command line: no warning.
    for named in [
        &["--config", "invctl.toml"][..],
        &["--email", "me@example.com"][..],
    ] {
        let output = run(named);
        assert!(!stderr(&output).contains("warning:"), "{}", stderr(&output));
    }
}

#[test]
fn a_picture_that_cannot_be_written_says_where_and_replaces_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the file should go, and a file inside a missing folder.
    let folder = dir.path().join("taken.svg");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("keep"), "kept").unwrap();
    for out in [folder.clone(), dir.path().join("missing").join("a.svg")] {
        let output = invctl(&["graph", "stack", "--out", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{}", util::text(&output));
        let message = stderr(&output);
        assert!(
            message.contains(&format!("cannot write {}", out.display())),
            "{message}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(folder.join("keep")).unwrap(),
        "kept"
    );
    // A file name whose format cannot be told is refused, not written as SVG;
    // for an execution's picture, before any request is sent.
    for args in [
        vec!["graph", "stack", "--out", "run.png"],
        vec!["executions", "show", "some-execution", "--graph", "run.png"],
    ] {
        let output = invctl(&args);
        assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
        assert!(
            stderr(&output).contains("cannot tell the picture format from run.png"),
            "{}",
            stderr(&output)
        );
    }
    assert!(!std::path::Path::new("run.png").exists());
    // A format that does not exist is a usage error naming the ones that do.
    let output = invctl(&["graph", "stack", "--format", "png"]);
    assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
    assert!(
        stderr(&output).contains("svg, dot, mermaid"),
        "{}",
        stderr(&output)
    );
}

/// invctl with nothing of AWS configured: no region, no credentials, no
/// profile files (an empty home), and no instance metadata to ask.
fn unconfigured(home: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_invctl"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(home)
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    util::run(&mut command)
}

#[test]
fn missing_credentials_and_region_are_one_readable_line_with_the_ways_out() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    for command in [
        &["status"][..],
        &["scan", "inventory"],
        &["destroy", "--yes"],
    ] {
        let output = unconfigured(home, command, &[]);
        assert_eq!(output.status.code(), Some(2), "{}", util::text(&output));
        assert_eq!(
            stderr(&output).trim_end(),
            "error: no AWS region: pass --region REGION, set AWS_REGION, or set `region` in your AWS profile (`aws configure`); for the local cloud, pass --local",
            "{command:?}"
        );
    }

    let closed = closed_endpoint();
    for (args, env) in [
        (vec!["status"], vec![("AWS_REGION", "eu-west-1")]),
        (vec!["status", "--region", "eu-west-1"], vec![]),
        // Pointed at an endpoint, requests must still be signed.
        (
            vec!["send-order", "--endpoint-url", closed.as_str()],
            vec![("AWS_REGION", "eu-west-1")],
        ),
    ] {
        let output = unconfigured(home, &args, &env);
        assert_eq!(output.status.code(), Some(1), "{}", util::text(&output));
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        for hint in [
            "no usable AWS credentials",
            "aws sso login",
            "--profile",
            "AWS_ACCESS_KEY_ID",
            "--local",
            "-v shows the details",
        ] {
            assert!(message.contains(hint), "{args:?}: no {hint:?} in {message}");
        }
        for noise in ["DispatchFailure", "ConnectorError", "caused by"] {
            assert!(!message.contains(noise), "{args:?}: {message}");
        }
        // -v (or RUST_LOG) adds the SDK's own account on the lines after.
        let mut verbose_args = args.clone();
        verbose_args.push("-v");
        let verbose = unconfigured(home, &verbose_args, &env);
        let detailed = stderr(&verbose);
        assert!(detailed
            .lines()
            .next()
            .unwrap()
            .contains("no usable AWS credentials"));
        assert!(detailed.contains("\n  detail: "), "{detailed}");
        let logged = unconfigured(
            home,
            &args,
            &[env.as_slice(), &[("RUST_LOG", "info")]].concat(),
        );
        assert!(
            stderr(&logged).contains("\n  detail: "),
            "{}",
            stderr(&logged)
        );
    }
}

/// A fault rule AWS could not produce is refused before any cloud is
/// looked for (exit 2); a good one with no cloud running says so (exit 3);
/// bad rules in a `--faults` file stop `local up` before anything starts.
#[test]
fn fault_rules_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["local", "--workspace", workspace];
        all.extend_from_slice(args);
        invctl(&all)
    };
    let refused = run(&[
        "fault",
        "add",
        "dynamodb:GetItem",
        "--error",
        "TransactionConflict",
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("dynamodb:GetItem cannot answer TransactionConflict"),
        "{}",
        stderr(&refused)
    );
    for (args, why) in [
        (
            &["fault", "add", "nosuch", "--error", "x"][..],
            "is not service:Operation",
        ),
        (
            &[
                "fault",
                "add",
                "deliver:sqs",
                "--error",
                "duplicate",
                "--rate",
                "2",
            ][..],
            "rate 2 is not in (0, 1]",
        ),
    ] {
        let output = run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(why),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let no_cloud = run(&["fault", "add", "deliver:sqs", "--error", "duplicate"]);
    assert_eq!(no_cloud.status.code(), Some(3), "{}", stderr(&no_cloud));
    assert!(stderr(&no_cloud).contains("no local cloud is running"));

    let rules = dir.path().join("faults.toml");
    std::fs::write(
        &rules,
        "[[fault]]\ntarget = \"sns:Publish\"\nerror = \"TransactionConflict\"\n",
    )
    .unwrap();
    let up = run(&["up", "--faults", rules.to_str().unwrap()]);
    assert_eq!(up.status.code(), Some(2), "{}", stderr(&up));
    assert!(
        stderr(&up).contains("sns:Publish cannot answer"),
        "{}",
        stderr(&up)
    );
    assert!(!dir.path().join(".invctl").exists(), "nothing may start");
}

#[test]
fn a_stale_local_state_signals_nothing_and_says_the_cloud_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    // A process that now has the id the dead cloud wrote down.
    let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
    let state = dir.path().join(".invctl/local");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("state.json"),
        serde_json::json!({
            "endpoint": closed_endpoint(), "region": "us-east-1",
            "plane": "http://127.0.0.1:9/x", "pid": bystander.id(), "motoPid": bystander.id(),
            "log": "-", "timeScale": 1, "iam": "enforce"
        })
        .to_string(),
    )
    .unwrap();
    let run = |args: &[&str]| {
        util::run(
            Command::new(assert_cmd::cargo::cargo_bin("invctl"))
                .current_dir(dir.path())
                .args(args),
        )
    };
    let used = run(&["--local", "status"]);
    assert_eq!(used.status.code(), Some(3), "{}", util::text(&used));
    assert!(stderr(&used).contains("is gone"), "{}", stderr(&used));

    let down = run(&["local", "down"]);
    assert!(down.status.success(), "{}", util::text(&down));
    assert!(
        util::text(&down).contains("no process was signalled"),
        "{}",
        util::text(&down)
    );
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the process with the recorded id was left alone"
    );
    assert!(
        !state.join("state.json").exists(),
        "the stale state is gone"
    );
    bystander.kill().unwrap();
}
