//! The synthesized output, checked by validators nobody here wrote: cfn-lint
//! for the template, asl-validator and the AWS Toolkit's language service for
//! the workflows. Each check is also shown able to fail on a broken file.

mod util;

use std::fs;
use std::process::Command;

use invctl::commands::synth::TemplateFormat;
use serde_json::Value as Json;

#[test]
fn cfn_lint_reports_nothing_on_the_yaml_template() {
    let dir = util::synth_into_tempdir(TemplateFormat::Yaml);
    let output = util::cfn_lint_on(&dir.path().join("template.yaml"));
    assert!(
        output.status.success() && util::text(&output).trim().is_empty(),
        "cfn-lint found problems:\n{}",
        util::text(&output)
    );
}

#[test]
fn cfn_lint_reports_nothing_on_the_json_template() {
    let dir = util::synth_into_tempdir(TemplateFormat::Json);
    let output = util::cfn_lint_on(&dir.path().join("template.json"));
    assert!(
        output.status.success() && util::text(&output).trim().is_empty(),
        "cfn-lint found problems:\n{}",
        util::text(&output)
    );
}

#[test]
fn cfn_lint_fails_a_broken_template() {
    let dir = util::synth_into_tempdir(TemplateFormat::Json);
    let path = dir.path().join("template.json");
    let mut template: Json = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    template["Resources"]["OrderGeneratorSchedule"]["Properties"]["FlexibleTimeWindow"]["Mode"] =
        "SOMETIMES".into();
    template["Resources"]["OrdersQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] =
        serde_json::json!({"Fn::GetAtt": ["NoSuchQueue", "Arn"]});
    fs::write(&path, serde_json::to_string_pretty(&template).unwrap()).unwrap();
    let output = util::cfn_lint_on(&path);
    let text = util::text(&output);
    assert!(
        !output.status.success(),
        "cfn-lint accepted a broken template"
    );
    assert!(text.contains("SOMETIMES"), "{text}");
    assert!(text.contains("NoSuchQueue"), "{text}");
}

fn workflow_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir.join("asl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    files
}

fn asl_validator(files: &[std::path::PathBuf]) -> std::process::Output {
    let mut command = Command::new(util::asl_validator());
    for file in files {
        command.arg("--json-path").arg(file);
    }
    util::run(&mut command)
}

fn language_service(files: &[std::path::PathBuf]) -> std::process::Output {
    util::run(
        Command::new("node")
            .arg(util::asl_language_service_script())
            .args(files),
    )
}

/// A copy of reserve-stock whose first state points at a state that does not exist.
fn broken_workflow(dir: &std::path::Path) -> std::path::PathBuf {
    let source = dir.join("asl/reserve-stock.asl.json");
    let mut definition: Json = serde_json::from_str(&fs::read_to_string(source).unwrap()).unwrap();
    definition["States"]["StartReservationAttempts"]["Next"] = "NoSuchState".into();
    let broken = dir.join("broken.asl.json");
    fs::write(&broken, serde_json::to_string_pretty(&definition).unwrap()).unwrap();
    broken
}

#[test]
fn asl_validator_accepts_every_workflow() {
    let dir = util::synth_into_tempdir(TemplateFormat::Yaml);
    let output = asl_validator(&workflow_files(dir.path()));
    let text = util::text(&output);
    assert!(output.status.success(), "asl-validator rejected:\n{text}");
    assert_eq!(text.matches("is valid").count(), 3, "{text}");
}

#[test]
fn asl_validator_fails_a_broken_workflow() {
    let dir = util::synth_into_tempdir(TemplateFormat::Yaml);
    let output = asl_validator(&[broken_workflow(dir.path())]);
    let text = util::text(&output);
    assert!(!output.status.success(), "asl-validator accepted:\n{text}");
    assert!(text.contains("NoSuchState"), "{text}");
}

#[test]
fn the_language_service_accepts_every_workflow() {
    let dir = util::synth_into_tempdir(TemplateFormat::Yaml);
    let output = language_service(&workflow_files(dir.path()));
    let text = util::text(&output);
    assert!(output.status.success(), "language service found:\n{text}");
    assert!(text.contains("3 file(s) valid"), "{text}");
}

#[test]
fn the_language_service_fails_a_broken_workflow() {
    let dir = util::synth_into_tempdir(TemplateFormat::Yaml);
    let output = language_service(&[broken_workflow(dir.path())]);
    let text = util::text(&output);
    assert!(
        !output.status.success(),
        "language service accepted:\n{text}"
    );
    assert!(
        text.contains("must be the name of an existing state"),
        "{text}"
    );
}
