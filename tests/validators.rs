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

/// The workflows as Step Functions receives them: the template's `Fn::Sub`
/// has filled in the partition (the other placeholders the validators take
/// as they are).
fn workflow_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir.join("asl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    let resolved = dir.join("resolved");
    fs::create_dir_all(&resolved).unwrap();
    files
        .iter()
        .map(|file| {
            let text = fs::read_to_string(file).unwrap();
            assert!(text.contains("arn:${AWS::Partition}:states:::"), "{file:?}");
            let copy = resolved.join(file.file_name().unwrap());
            fs::write(&copy, text.replace("${AWS::Partition}", "aws")).unwrap();
            copy
        })
        .collect()
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
    let source = workflow_files(dir)
        .into_iter()
        .find(|f| f.ends_with("reserve-stock.asl.json"))
        .unwrap();
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

// ------------------------------------------- checkov and the serverless rules

/// One accepted finding kind, from `tools/checks/allow-list.toml`.
#[derive(serde::Deserialize)]
struct Accepted {
    check: String,
    resources: Vec<String>,
    why: String,
}

#[derive(serde::Deserialize)]
struct AllowList {
    checkov: Vec<Accepted>,
    serverless: Vec<Accepted>,
    #[serde(default)]
    parliament: Vec<Accepted>,
}

fn allow_list() -> AllowList {
    let path = util::repo_root().join("tools/checks/allow-list.toml");
    toml::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Findings as (check, logical id), sorted.
type Findings = std::collections::BTreeSet<(String, String)>;

/// Every finding must be accepted with a reason, and every accepted one must
/// still be found (a stale entry would hide the next real one).
fn assert_only_accepted(tool: &str, found: &Findings, accepted: &[Accepted]) {
    let mut listed = Findings::new();
    for entry in accepted {
        assert!(
            entry.why.trim().len() > 20,
            "{tool} {}: say why it is accepted",
            entry.check
        );
        for resource in &entry.resources {
            listed.insert((entry.check.clone(), resource.clone()));
        }
    }
    let new: Vec<_> = found.difference(&listed).collect();
    assert!(
        new.is_empty(),
        "{tool} finds what tools/checks/allow-list.toml does not accept: fix it or list it with a reason:\n{new:#?}"
    );
    let stale: Vec<_> = listed.difference(found).collect();
    assert!(
        stale.is_empty(),
        "tools/checks/allow-list.toml accepts {tool} findings that no longer occur: remove them:\n{stale:#?}"
    );
}

fn checkov_findings(template: &std::path::Path) -> Findings {
    let output = util::run(
        Command::new(util::checkov())
            .args([
                "--framework",
                "cloudformation",
                "--quiet",
                "-o",
                "json",
                "-f",
            ])
            .arg(template),
    );
    let report: Json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov gave no JSON report ({e}):\n{}",
            util::text(&output)
        )
    });
    report["results"]["failed_checks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|check| {
            let resource = check["resource"].as_str().unwrap();
            (
                check["check_id"].as_str().unwrap().to_owned(),
                // "AWS::SQS::Queue.OrdersQueue" -> "OrdersQueue"
                resource.rsplit('.').next().unwrap().to_owned(),
            )
        })
        .collect()
}

fn serverless_findings(template: &std::path::Path) -> Findings {
    let output = util::run(
        Command::new(util::cfn_lint())
            .args(["-a", "cfn_lint_serverless.rules", "-f", "json", "-t"])
            .arg(template),
    );
    let findings: Json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "cfn-lint gave no JSON report ({e}):\n{}",
            util::text(&output)
        )
    });
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["Rule"]["Id"].as_str().unwrap().to_owned(),
                f["Location"]["Path"][1]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn checkov_finds_only_what_the_allow_list_accepts() {
    let dir = util::synth_into_tempdir(TemplateFormat::Json);
    let found = checkov_findings(&dir.path().join("template.json"));
    assert_only_accepted("checkov", &found, &allow_list().checkov);
}

#[test]
fn the_serverless_rules_find_only_what_the_allow_list_accepts() {
    let dir = util::synth_into_tempdir(TemplateFormat::Json);
    let found = serverless_findings(&dir.path().join("template.json"));
    assert_only_accepted("cfn-lint-serverless", &found, &allow_list().serverless);
}

/// Both checks can fail: a public bucket and a queue without a dead-letter
/// queue are new findings the allow-list does not cover.
#[test]
fn checkov_and_the_serverless_rules_catch_a_new_finding() {
    let dir = util::synth_into_tempdir(TemplateFormat::Json);
    let path = dir.path().join("template.json");
    let mut template: Json = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    template["Resources"]["OpenBucket"] = serde_json::json!({
        "Type": "AWS::S3::Bucket",
        "Properties": {"PublicAccessBlockConfiguration": {"BlockPublicAcls": false}}
    });
    template["Resources"]["OrdersQueue"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("RedrivePolicy");
    fs::write(&path, serde_json::to_string_pretty(&template).unwrap()).unwrap();
    let checkov = checkov_findings(&path);
    assert!(
        checkov.iter().any(|(_, resource)| resource == "OpenBucket"),
        "{checkov:#?}"
    );
    let serverless = serverless_findings(&path);
    assert!(
        serverless.contains(&("ES6000".to_owned(), "OrdersQueue".to_owned())),
        "{serverless:#?}"
    );
}

// ------------------------------------------------------------ parliament

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// The ARN a resource of the template would have (parliament matches ARNs
/// against each action's resource types, so intrinsics must be resolved).
/// An attribute or type this does not know fails the test: add it.
fn arn_of(resources: &serde_json::Map<String, Json>, id: &str, attribute: &str) -> String {
    let kind = resources[id]["Type"].as_str().unwrap();
    let (service, path) = match (kind, attribute) {
        ("AWS::SQS::Queue", "Arn") => ("sqs", id.to_owned()),
        ("AWS::DynamoDB::Table", "Arn") => ("dynamodb", format!("table/{id}")),
        // A real stream label is a time with colons (2026-01-01T00:00:00.000);
        // parliament splits ARNs at every colon and would then match no
        // stream action, so the label here has none.
        ("AWS::DynamoDB::Table", "StreamArn") => (
            "dynamodb",
            format!("table/{id}/stream/2026-01-01T000000.000"),
        ),
        ("AWS::Lambda::Function", "Arn") => ("lambda", format!("function:{id}")),
        ("AWS::Logs::LogGroup", "Arn") => ("logs", format!("log-group:{id}:*")),
        ("AWS::Events::EventBus", "Arn") => ("events", format!("event-bus/{id}")),
        ("AWS::Events::Rule", "Arn") => ("events", format!("rule/bus/{id}")),
        ("AWS::KMS::Key", "Arn") => ("kms", format!("key/{id}")),
        ("AWS::SNS::Topic", "Ref") => ("sns", id.to_owned()),
        ("AWS::StepFunctions::StateMachine", "Ref") => ("states", format!("stateMachine:{id}")),
        ("AWS::IAM::Role", "Arn") => return format!("arn:aws:iam::{ACCOUNT}:role/{id}"),
        _ => panic!("no ARN for {id} ({kind}).{attribute}: teach arn_of"),
    };
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{path}")
}

/// `value` with every intrinsic function replaced by what CloudFormation
/// would put there.
fn resolved(value: &Json, resources: &serde_json::Map<String, Json>) -> Json {
    match value {
        Json::Object(map) if map.len() == 1 && map.contains_key("Fn::GetAtt") => {
            let pair = map["Fn::GetAtt"].as_array().unwrap();
            Json::from(arn_of(
                resources,
                pair[0].as_str().unwrap(),
                pair[1].as_str().unwrap(),
            ))
        }
        Json::Object(map) if map.len() == 1 && map.contains_key("Ref") => {
            Json::from(arn_of(resources, map["Ref"].as_str().unwrap(), "Ref"))
        }
        Json::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
            let mut text = map["Fn::Sub"].as_str().unwrap().to_owned();
            for (name, value) in [
                ("AWS::Partition", "aws"),
                ("AWS::Region", REGION),
                ("AWS::AccountId", ACCOUNT),
                ("AWS::StackName", "inventory"),
            ] {
                text = text.replace(&format!("${{{name}}}"), value);
            }
            assert!(!text.contains("${"), "unresolved: {text}");
            Json::from(text)
        }
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolved(v, resources)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(|v| resolved(v, resources)).collect()),
        other => other.clone(),
    }
}

/// Every IAM policy of the template, resolved, as (a name that says whose
/// policy it is, the document): roles' inline policies, queue policies and
/// the key policy.
fn template_policies(template: &Json) -> Vec<(String, Json)> {
    let resources = template["Resources"].as_object().unwrap();
    let mut policies = Vec::new();
    for (id, resource) in resources {
        let properties = &resource["Properties"];
        let mut add = |kind: &str, document: &Json| {
            policies.push((format!("{id}.{kind}"), resolved(document, resources)));
        };
        match resource["Type"].as_str().unwrap() {
            // Trust policies are left out: parliament reads every document as
            // an identity policy, and a trust policy names no Resource.
            "AWS::IAM::Role" => {
                for policy in properties["Policies"].as_array().unwrap() {
                    add(
                        policy["PolicyName"].as_str().unwrap(),
                        &policy["PolicyDocument"],
                    );
                }
            }
            "AWS::SQS::QueuePolicy" => add("queue", &properties["PolicyDocument"]),
            "AWS::KMS::Key" => add("key", &properties["KeyPolicy"]),
            _ => {}
        }
    }
    policies
}

/// parliament's findings on `policies` as (issue, whose policy).
fn parliament_findings(policies: &[(String, Json)]) -> Findings {
    let dir = tempfile::tempdir().unwrap();
    for (name, document) in policies {
        fs::write(
            dir.path().join(format!("{name}.json")),
            serde_json::to_string_pretty(document).unwrap(),
        )
        .unwrap();
    }
    let output = util::run(
        Command::new(util::parliament())
            .arg("--directory")
            .arg(dir.path())
            .args(["--include_policy_extension", ".json", "--json"])
            .stdin(std::process::Stdio::null()),
    );
    // It exits non-zero when it finds something; a crash shows on stderr.
    assert!(
        output.status.code().is_some() && !util::text(&output).contains("Traceback"),
        "parliament failed:\n{}",
        util::text(&output)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let finding: Json = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("parliament wrote {line:?}: {e}"));
            let file = finding["location"]["filepath"].as_str().unwrap();
            let name = std::path::Path::new(file)
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap();
            (
                finding["issue"].as_str().unwrap().to_owned(),
                name.to_owned(),
            )
        })
        .collect()
}

#[test]
fn parliament_finds_only_what_the_allow_list_accepts_in_every_policy() {
    let template: Json = serde_json::from_str(
        &invctl::stack::synthesize(invctl::stack::Architecture::Arm64)
            .unwrap()
            .template
            .to_json(),
    )
    .unwrap();
    let policies = template_policies(&template);
    assert_eq!(policies.len(), 13, "ten roles, two queue policies, the key");
    let found = parliament_findings(&policies);
    assert_only_accepted("parliament", &found, &allow_list().parliament);
}

/// parliament can fail: a grant of ListStreams on a stream (the action takes
/// no resource) is a finding the allow-list does not cover.
#[test]
fn parliament_catches_an_action_on_a_resource_it_does_not_take() {
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["dynamodb:ListStreams"],
        "Resource": [format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/T/stream/2026-01-01T00:00:00.000")],
    }]});
    let found = parliament_findings(&[("Broken.policy".to_owned(), policy)]);
    assert!(
        found.contains(&("RESOURCE_MISMATCH".to_owned(), "Broken.policy".to_owned())),
        "{found:?}"
    );
}

/// `invctl diff` says a change replaces a resource from its own table of
/// create-only properties: the table is what the resource types' registry
/// schemas (as cfn-lint ships them) say, for every type the stack uses.
#[test]
fn diffs_replacement_table_matches_the_registry_schemas() {
    use invctl::commands::diff::replacement::CREATE_ONLY;
    let python = util::cfn_lint().parent().unwrap().join("python");
    let found = util::run(Command::new(&python).args([
        "-c",
        "import cfnlint, os; print(os.path.dirname(cfnlint.__file__))",
    ]));
    assert!(found.status.success(), "{}", util::text(&found));
    let schemas = std::path::PathBuf::from(String::from_utf8_lossy(&found.stdout).trim())
        .join("data/schemas");
    let read = |path: std::path::PathBuf| -> Json {
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
    };
    let provider = read(schemas.join("providers/us-east-1.json"));
    let template = util::synthesized(TemplateFormat::Json)
        .into_iter()
        .find(|a| {
            a.path.extension().is_some_and(|e| e == "json")
                && a.path.parent() == Some(std::path::Path::new(""))
        })
        .map(|a| serde_json::from_str::<Json>(&a.contents).unwrap())
        .expect("the template");
    let mut types: Vec<String> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["Type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types.dedup();
    for kind in types {
        let schema = read(schemas.join(format!(
            "resources/{}.json",
            provider[&kind].as_str().unwrap_or_else(|| panic!("no schema for {kind}"))
        )));
        let mut expected: Vec<String> = schema["createOnlyProperties"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|p| p.as_str()?.strip_prefix("/properties/"))
                    .map(|p| p.split('/').next().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        expected.sort();
        expected.dedup();
        let mut listed: Vec<String> = CREATE_ONLY
            .iter()
            .find(|(k, _)| *k == kind)
            .unwrap_or_else(|| panic!("{kind} is not in diff's replacement table"))
            .1
            .iter()
            .map(|p| p.to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, expected, "{kind}");
    }
}
