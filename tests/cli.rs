//! The binary as a user runs it: help, exit codes, synth's files and errors.

mod util;

use std::fs;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value as Json;

fn invctl() -> Command {
    Command::cargo_bin("invctl").unwrap()
}

const COMMANDS: [&str; 13] = [
    "synth",
    "graph",
    "build",
    "deploy",
    "status",
    "destroy",
    "send-order",
    "scan",
    "approve",
    "reject",
    "executions",
    "schedule",
    "watch",
];

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let assert = invctl().arg("--help").assert().success();
    let help = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for command in COMMANDS {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} missing from help:\n{help}"
        );
    }
    assert!(help.contains("Exit codes"));
}

#[test]
fn every_command_has_its_own_help() {
    for command in COMMANDS {
        invctl()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: invctl"));
    }
}

#[test]
fn scan_names_the_tables_it_can_read() {
    invctl()
        .args(["scan", "orders"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[possible values: reservations, inventory, purchase-orders]",
        ));
}

#[test]
fn synth_writes_the_template_and_workflows_then_leaves_them_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    invctl()
        .args(["synth", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote").count(4));
    for file in [
        "template.yaml",
        "asl/reserve-stock.asl.json",
        "asl/create-purchase-order.asl.json",
        "asl/check-inventory-level.asl.json",
    ] {
        let expected = util::synthesized(invctl::commands::synth::TemplateFormat::Yaml)
            .into_iter()
            .find(|a| a.path.to_string_lossy() == file)
            .unwrap();
        assert_eq!(
            fs::read_to_string(out.join(file)).unwrap(),
            expected.contents
        );
    }
    invctl()
        .args(["synth", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("unchanged").count(4));
    invctl()
        .args(["synth", "--check", "--out"])
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn synth_json_format_and_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let assert = invctl()
        .args(["synth", "--format", "json", "--output", "json", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let report: Json = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert!(files[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("template.json"));
    assert!(files
        .iter()
        .all(|f| f["status"] == "written" && f["bytes"].as_u64().unwrap() > 0));
    let template: Json =
        serde_json::from_str(&fs::read_to_string(dir.path().join("template.json")).unwrap())
            .unwrap();
    assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
}

#[test]
fn synth_arch_changes_the_template() {
    let dir = tempfile::tempdir().unwrap();
    invctl()
        .args(["synth", "--arch", "x86_64", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let template = fs::read_to_string(dir.path().join("template.yaml")).unwrap();
    assert!(template.contains("- x86_64"));
    assert!(!template.contains("- arm64"));
}

#[test]
fn synth_check_reports_drift_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    invctl()
        .args(["synth", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let edited = dir.path().join("asl/reserve-stock.asl.json");
    fs::write(&edited, "{}\n").unwrap();
    fs::remove_file(dir.path().join("template.yaml")).unwrap();
    invctl()
        .args(["synth", "--check", "--out"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("DIFFERS").and(predicate::str::contains("MISSING")))
        .stderr(predicate::str::contains("2 file(s) differ from the models"));
    assert_eq!(fs::read_to_string(&edited).unwrap(), "{}\n");
    assert!(!dir.path().join("template.yaml").exists());
}

#[test]
fn synth_refuses_an_out_path_that_is_a_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("precious.txt");
    fs::write(&file, "keep me").unwrap();
    invctl()
        .args(["synth", "--out"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exists and is not a folder"));
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn synth_reports_an_unwritable_folder_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    // A file where synth needs the asl/ folder: creating it must fail.
    fs::write(dir.path().join("asl"), "not a folder").unwrap();
    invctl()
        .args(["synth", "--out"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("error: cannot write")
                .and(predicate::str::contains("caused by:")),
        );
    assert_eq!(
        fs::read_to_string(dir.path().join("asl")).unwrap(),
        "not a folder"
    );
    assert!(
        !dir.path().join("template.yaml").exists(),
        "nothing is written when a folder cannot be made"
    );
}

#[test]
fn bad_flag_values_are_usage_errors() {
    invctl()
        .args(["synth", "--format", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("xml"));
    invctl()
        .args(["synth", "--arch", "sparc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("arm64"));
    invctl().arg("frobnicate").assert().code(2);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("invctl"))
        .args(["synth", "--out"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
