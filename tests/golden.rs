//! Drift, golden and determinism tests of what synth produces.
//!
//! The workflows are checked in under `asl/`, their diagrams and the
//! stack's under `docs/`, and the template under `tests/golden/`; a change to the models that changes them fails here until
//! the files are regenerated with `INVCTL_BLESS=1 cargo test --test golden`
//! (and the diff reviewed like any other change).

mod util;

use std::fs;

use invctl::commands::synth::TemplateFormat;
use invctl::stack::{self, Architecture};
use serde_json::Value as Json;

fn compare_or_bless(relative: &str, expected: &str) {
    let path = util::repo_root().join(relative);
    if util::blessing() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, expected).unwrap();
        return;
    }
    let actual = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{relative} cannot be read ({e}); run INVCTL_BLESS=1 cargo test --test golden")
    });
    assert!(
        actual == expected,
        "{relative} has drifted from the models; run INVCTL_BLESS=1 cargo test --test golden and review the diff"
    );
}

#[test]
fn checked_in_workflows_match_the_models() {
    let artifacts = util::synthesized(TemplateFormat::Yaml);
    let workflows: Vec<_> = artifacts
        .iter()
        .filter(|a| a.path.starts_with("asl"))
        .collect();
    assert_eq!(workflows.len(), 3, "three workflows are synthesized");
    for artifact in workflows {
        compare_or_bless(&artifact.path.to_string_lossy(), &artifact.contents);
    }
    // No stale definition lingers in asl/ after a workflow is renamed.
    let mut on_disk: Vec<String> = fs::read_dir(util::repo_root().join("asl"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk,
        vec![
            "check-inventory-level.asl.json",
            "create-purchase-order.asl.json",
            "reserve-stock.asl.json"
        ]
    );
}

/// The diagrams README shows, under `docs/`: the stack and each workflow,
/// drawn from the models like `asl/` is written from them.
#[test]
fn checked_in_diagrams_match_the_models() {
    use clap::ValueEnum;
    use invctl::commands::graph::{graph_of, Target};
    use invctl::graph::render::{render, Format};
    let mut expected = Vec::new();
    for target in Target::value_variants() {
        let name = target.to_possible_value().unwrap().get_name().to_owned();
        let picture = render(&graph_of(*target).unwrap(), Format::Svg);
        compare_or_bless(&format!("docs/{name}.svg"), &picture);
        expected.push(format!("{name}.svg"));
    }
    expected.sort();
    // No stale picture lingers in docs/ after a workflow is renamed.
    let mut on_disk: Vec<String> = fs::read_dir(util::repo_root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".svg"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, expected);
}

#[test]
fn template_matches_the_golden_files() {
    for (format, golden) in [
        (TemplateFormat::Yaml, "tests/golden/template.yaml"),
        (TemplateFormat::Json, "tests/golden/template.json"),
    ] {
        let template = util::synthesized(format).remove(0);
        compare_or_bless(golden, &template.contents);
    }
}

#[test]
fn two_runs_give_identical_bytes() {
    for format in [TemplateFormat::Yaml, TemplateFormat::Json] {
        let first = util::synthesized(format);
        let second = util::synthesized(format);
        assert_eq!(first, second);
    }
}

fn template_json(architecture: Architecture) -> Json {
    let stack = stack::synthesize(architecture).unwrap();
    serde_json::from_str(&stack.template.to_json()).unwrap()
}

#[test]
fn the_template_embeds_exactly_the_checked_in_definitions() {
    let template = template_json(Architecture::Arm64);
    let stack = stack::synthesize(Architecture::Arm64).unwrap();
    for flow in &stack.workflows {
        let resource = &template["Resources"][flow.logical_id];
        let sub = resource["Properties"]["DefinitionString"]["Fn::Sub"]
            .as_array()
            .unwrap_or_else(|| panic!("{} uses DefinitionString with Fn::Sub", flow.logical_id));
        let checked_in = fs::read_to_string(
            util::repo_root()
                .join("asl")
                .join(flow.workflow.file_name()),
        )
        .unwrap();
        assert_eq!(sub[0].as_str().unwrap(), checked_in);
        let bound: Vec<&String> = sub[1].as_object().unwrap().keys().collect();
        let used: Vec<&str> = invctl::model::cfn::sub_variables(&checked_in);
        for name in &bound {
            assert!(used.contains(&name.as_str()), "{name} is bound but unused");
        }
        for name in used.into_iter().filter(|n| !n.starts_with("AWS::")) {
            assert!(
                bound.iter().any(|b| *b == name),
                "{name} is used but unbound"
            );
        }
    }
}

#[test]
fn the_architecture_reaches_every_function() {
    for (architecture, name) in [
        (Architecture::Arm64, "arm64"),
        (Architecture::X86_64, "x86_64"),
    ] {
        let template = template_json(architecture);
        let functions: Vec<&Json> = template["Resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["Type"] == "AWS::Lambda::Function")
            .collect();
        assert_eq!(functions.len(), 5);
        for function in functions {
            assert_eq!(
                function["Properties"]["Architectures"],
                serde_json::json!([name])
            );
            assert_eq!(function["Properties"]["Runtime"], "provided.al2023");
        }
    }
}

#[test]
fn yaml_and_json_templates_say_the_same() {
    // The YAML must read back as the JSON: quoting of YAML 1.1 look-alikes
    // such as OFF or 2010-09-09 included (CloudFormation reads YAML 1.1).
    let yaml = util::synthesized(TemplateFormat::Yaml).remove(0).contents;
    let json = util::synthesized(TemplateFormat::Json).remove(0).contents;
    let from_yaml: Json = serde_saphyr::from_str(&yaml).unwrap();
    let from_json: Json = serde_json::from_str(&json).unwrap();
    assert_eq!(from_yaml, from_json);
    for line in yaml.lines() {
        let value = line.split_once(": ").map(|(_, v)| v.trim());
        assert!(
            !matches!(
                value,
                Some("OFF" | "ON" | "YES" | "NO" | "Off" | "On" | "yes" | "no" | "off" | "on")
            ),
            "unquoted YAML 1.1 boolean look-alike: {line}"
        );
    }
}
