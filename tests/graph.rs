//! `invctl graph`: every state and transition of each workflow reaches every
//! format, checked against the checked-in ASL (read as plain JSON, not
//! through the models); the stack picture shows the event flow; a broken
//! model is refused like synth refuses it; the pictures render in a real
//! browser.

mod util;

use std::collections::BTreeSet;
use std::process::Command;

use invctl::graph::render::{render, Format};
use invctl::graph::Graph;
use invctl::stack::workflows::WorkflowId;
use serde_json::Value;

type Edges = BTreeSet<(String, String)>;

/// Node ids and edges a workflow's graph must have, from its ASL: each
/// state, `start`, `end`, a `join:P` per Parallel state; Next, End,
/// Default, Choices, Catch, branch starts and branch ends.
fn expected_from_asl(asl: &Value) -> (BTreeSet<String>, Edges) {
    fn walk(machine: &Value, end: &str, nodes: &mut BTreeSet<String>, edges: &mut Edges) {
        let state = |name: &str| format!("state:{name}");
        for (name, body) in machine["States"].as_object().unwrap() {
            let id = state(name);
            nodes.insert(id.clone());
            if let Some(next) = body["Next"].as_str() {
                edges.insert((id.clone(), state(next)));
            }
            if body["End"] == true || body["Type"] == "Succeed" {
                edges.insert((id.clone(), end.to_owned()));
            }
            if let Some(default) = body["Default"].as_str() {
                edges.insert((id.clone(), state(default)));
            }
            for list in ["Choices", "Catch"] {
                for rule in body[list].as_array().into_iter().flatten() {
                    edges.insert((id.clone(), state(rule["Next"].as_str().unwrap())));
                }
            }
            if body["Type"] == "Parallel" {
                let join = format!("join:{name}");
                nodes.insert(join.clone());
                // The Parallel state's own Next leaves from its join.
                if let Some(next) = body["Next"].as_str() {
                    edges.remove(&(id.clone(), state(next)));
                    edges.insert((join.clone(), state(next)));
                }
                if body["End"] == true {
                    edges.remove(&(id.clone(), end.to_owned()));
                    edges.insert((join.clone(), end.to_owned()));
                }
                for branch in body["Branches"].as_array().unwrap() {
                    edges.insert((id.clone(), state(branch["StartAt"].as_str().unwrap())));
                    walk(branch, &join, nodes, edges);
                }
            }
        }
    }
    let mut nodes = BTreeSet::from(["start".to_owned(), "end".to_owned()]);
    let mut edges = Edges::from([(
        "start".to_owned(),
        format!("state:{}", asl["StartAt"].as_str().unwrap()),
    )]);
    walk(asl, "end", &mut nodes, &mut edges);
    (nodes, edges)
}

fn checked_in_asl(workflow: WorkflowId) -> Value {
    let path = util::repo_root()
        .join("asl")
        .join(format!("{}.asl.json", workflow.as_str()));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The node ids and edges of a DOT text: `"id" [...]` and `"a" -> "b"`.
fn from_dot(dot: &str) -> (BTreeSet<String>, Edges) {
    let quoted = |text: &str| -> Vec<String> {
        text.split('"')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, s)| s.to_owned())
            .collect()
    };
    let mut nodes = BTreeSet::new();
    let mut edges = Edges::new();
    for line in dot.lines().map(str::trim) {
        if line.starts_with('"') && line.contains(" -> ") {
            let ends = quoted(line);
            edges.insert((ends[0].clone(), ends[1].clone()));
        } else if line.starts_with('"') && line.contains(" [label=") {
            nodes.insert(quoted(line)[0].clone());
        }
    }
    (nodes, edges)
}

/// The node ids and edges of an SVG drawn by invctl, from its `data-`
/// attributes.
fn from_svg(svg: &str) -> (BTreeSet<String>, Edges) {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(
            tag[start..end]
                .replace("&quot;", "\"")
                .replace("&amp;", "&"),
        )
    };
    let mut nodes = BTreeSet::new();
    let mut edges = Edges::new();
    for tag in svg.split("<g ").skip(1) {
        let tag = &tag[..tag.find('>').unwrap()];
        if let Some(id) = attribute(tag, "data-id") {
            nodes.insert(id);
        } else if let (Some(from), Some(to)) =
            (attribute(tag, "data-from"), attribute(tag, "data-to"))
        {
            edges.insert((from, to));
        }
    }
    (nodes, edges)
}

fn graph(workflow: WorkflowId) -> Graph {
    invctl::graph::workflow_graph(workflow).unwrap()
}

#[test]
fn every_state_and_transition_of_each_workflow_is_drawn_in_each_format() {
    for workflow in WorkflowId::ALL {
        let (nodes, edges) = expected_from_asl(&checked_in_asl(workflow));
        let graph = graph(workflow);
        let name = workflow.as_str();

        let dot = render(&graph, Format::Dot);
        assert_eq!(
            from_dot(&dot),
            (nodes.clone(), edges.clone()),
            "{name} (DOT)"
        );

        // layout-rs may route an edge through a connector, but each edge
        // keeps its own group with its ends.
        let svg = render(&graph, Format::Svg);
        assert_eq!(
            from_svg(&svg),
            (nodes.clone(), edges.clone()),
            "{name} (SVG)"
        );
        assert!(
            svg.contains(&format!("<title>{name} (")),
            "{name}: no title"
        );

        let mermaid = render(&graph, Format::Mermaid);
        assert!(mermaid.contains("flowchart TD"), "{mermaid}");
        let arrows = mermaid
            .lines()
            .filter(|l| {
                l.contains(" --> ")
                    || l.contains(" -.-> ")
                    || l.contains(" -->|")
                    || l.contains(" -.->|")
            })
            .count();
        assert_eq!(arrows, graph.edges.len(), "{name} (Mermaid edges)");
        for state in nodes.iter().filter_map(|n| n.strip_prefix("state:")) {
            assert!(
                mermaid.contains(&format!("[\"{state}"))
                    || mermaid.contains(&format!("{{\"{state}"))
                    || mermaid.contains(&format!("([\"{state}")),
                "{name}: state {state} missing from the Mermaid chart"
            );
        }
    }
}

#[test]
fn choices_and_catches_are_labelled_and_retries_shown_on_their_task() {
    let reserve = graph(WorkflowId::ReserveStock);
    let dot = render(&reserve, Format::Dot);
    // A Choice rule's condition, a Choice default, a Catch with its errors.
    assert!(dot.contains("[label=\"default\"]"), "{dot}");
    assert!(dot.contains("label=\"catch"), "{dot}");
    assert!(dot.contains("$.quantity > 10000"), "{dot}");
    // The transaction retries throttling, and the node says so.
    let task = reserve.node("state:ReserveStock").unwrap();
    let detail = task.detail.as_deref().unwrap();
    assert!(detail.contains("transactWriteItems"), "{detail}");
    assert!(detail.contains("retry x"), "{detail}");
    // Parallel branches are clusters in DOT.
    assert!(dot.contains("subgraph \"cluster_0\""), "{dot}");
}

#[test]
fn the_stack_picture_follows_an_order_through_the_system() {
    let stack = invctl::graph::stack_graph().unwrap();
    let dot = render(&stack, Format::Dot);
    let (_, edges) = from_dot(&dot);
    let has = |from: &str, to: &str| edges.contains(&(from.to_owned(), to.to_owned()));
    let template = invctl::stack::synthesize(invctl::stack::Architecture::default())
        .unwrap()
        .template;
    let id_of = |kind: &str| -> Vec<String> {
        template
            .resources
            .iter()
            .filter(|(_, r)| r.type_name() == kind)
            .map(|(id, _)| id.clone())
            .collect()
    };
    // Every resource that carries events or data is drawn.
    let (nodes, _) = from_dot(&dot);
    for kind in [
        "AWS::Events::EventBus",
        "AWS::Events::Rule",
        "AWS::SQS::Queue",
        "AWS::Lambda::Function",
        "AWS::Lambda::Url",
        "AWS::StepFunctions::StateMachine",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::Scheduler::Schedule",
    ] {
        let ids = id_of(kind);
        assert!(!ids.is_empty(), "{kind}");
        for id in ids {
            assert!(nodes.contains(&id), "{id} ({kind}) is not drawn");
        }
    }
    // The order's way: schedule → generator → bus → rule → queue →
    // function → workflow → tables; the stream → check; failures → DLQs.
    for (from, to) in [
        ("OrderGeneratorSchedule", "OrderGeneratorFunction"),
        ("OrderGeneratorFunction", "EventBus"),
        ("EventBus", "NewOrderRule"),
        ("NewOrderRule", "OrdersQueue"),
        ("OrdersQueue", "ReserveStockFunction"),
        ("OrdersQueue", "OrdersDeadLetterQueue"),
        ("ReserveStockFunction", "ReserveStockStateMachine"),
        ("ReserveStockStateMachine", "InventoryTable"),
        ("ReserveStockStateMachine", "ReservationTable"),
        ("ReserveStockStateMachine", "EventBus"),
        ("InventoryTable", "InventoryStreamFunction"),
        ("InventoryStreamFunction", "CheckInventoryLevelStateMachine"),
        ("InventoryStreamFunction", "InventoryStreamFailureQueue"),
        ("EventBus", "CreatePurchaseOrderRule"),
        ("CreatePurchaseOrderRule", "CreatePurchaseOrderStateMachine"),
        (
            "CreatePurchaseOrderStateMachine",
            "PurchaseOrderEmailFunction",
        ),
        ("PurchaseOrderEmailFunction", "ApprovalTopic"),
        ("ApprovalTopic", "ApprovalEmailSubscription"),
        ("ApprovalFunctionUrl", "ApprovalFunction"),
        ("ApprovalFunction", "CreatePurchaseOrderStateMachine"),
    ] {
        assert!(has(from, to), "no {from} -> {to} in\n{dot}");
    }
    // Roles and log groups are plumbing, not flow.
    assert!(!nodes
        .iter()
        .any(|n| n.ends_with("Role") || n.ends_with("LogGroup")));
}

#[test]
fn a_broken_model_is_refused_with_synths_error() {
    use invctl::model::asl::{StateMachine, Task, Workflow, WorkflowType};
    let broken = Workflow {
        name: "broken",
        kind: WorkflowType::Express,
        definition: StateMachine::new("A").state(
            "A",
            Task::new("arn:aws:states:::sns:publish", serde_json::json!({})).next("Nowhere"),
        ),
        bindings: Default::default(),
    };
    let refused = invctl::graph::workflow::graph(&broken).unwrap_err();
    assert_eq!(refused, broken.validate().unwrap_err());
    let message = invctl::stack::SynthError::Workflow(refused).to_string();
    assert!(
        message.contains("workflow 'broken' is invalid"),
        "{message}"
    );
    assert!(message.contains("Nowhere"), "{message}");
}

#[test]
fn output_is_byte_stable_and_the_cli_writes_each_format() {
    let dir = tempfile::tempdir().unwrap();
    for (file, marker) in [
        ("a.svg", "<svg "),
        ("a.dot", "digraph "),
        ("a.mmd", "flowchart TD"),
    ] {
        let path = dir.path().join(file);
        let output = Command::new(env!("CARGO_BIN_EXE_invctl"))
            .args(["graph", "check-inventory-level", "--out"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", util::text(&output));
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.contains(marker), "{file}");
        let again = Command::new(env!("CARGO_BIN_EXE_invctl"))
            .args(["graph", "check-inventory-level", "--out"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(again.status.success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first, "{file}");
    }
    // To stdout, with the format named.
    let output = Command::new(env!("CARGO_BIN_EXE_invctl"))
        .args(["graph", "stack", "--format", "mermaid"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let chart = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(chart.contains("flowchart TD"));
    // The front matter is YAML that keeps the whole title (it has a colon).
    let front: std::collections::BTreeMap<String, String> =
        serde_saphyr::from_str(chart.split("---").nth(1).unwrap()).unwrap();
    assert_eq!(front["title"], "inventory stack: event flow");
    // An unknown target is a usage error that lists the known ones.
    let output = Command::new(env!("CARGO_BIN_EXE_invctl"))
        .args(["graph", "reserve-stocks"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(invctl::exit::USAGE));
    let text = util::text(&output);
    assert!(
        text.contains("stack") && text.contains("reserve-stock"),
        "{text}"
    );
}

mod browser;

/// The checked-in diagrams render in a real browser: a picture of nonzero
/// size whose text holds every state (or, for the stack, every function).
#[tokio::test(flavor = "multi_thread")]
async fn the_checked_in_diagrams_render_in_a_real_browser() {
    let browser = browser::Browser::start().await;
    let driver = &browser.driver;
    let mut pictures: Vec<(String, Vec<String>)> = WorkflowId::ALL
        .iter()
        .map(|workflow| {
            let (nodes, _) = expected_from_asl(&checked_in_asl(*workflow));
            let states = nodes
                .iter()
                .filter_map(|n| n.strip_prefix("state:"))
                .map(str::to_owned)
                .collect();
            (workflow.as_str().to_owned(), states)
        })
        .collect();
    pictures.push((
        "stack".to_owned(),
        invctl::stack::functions::ALL
            .iter()
            .map(|f| f.logical_id.to_owned())
            .collect(),
    ));
    for (name, expected) in pictures {
        let path = util::repo_root().join("docs").join(format!("{name}.svg"));
        driver
            .goto(&format!("file://{}", path.display()))
            .await
            .unwrap();
        let drawn = driver
            .execute(
                "const svg = document.documentElement; const box = svg.getBoundingClientRect(); \
                 return [svg.tagName, box.width, box.height, svg.textContent];",
                Vec::new(),
            )
            .await
            .unwrap()
            .json()
            .clone();
        assert_eq!(drawn[0], "svg", "{name}: {drawn}");
        assert!(drawn[1].as_f64().unwrap() > 100.0, "{name}: {drawn}");
        assert!(drawn[2].as_f64().unwrap() > 100.0, "{name}: {drawn}");
        let text = drawn[3].as_str().unwrap();
        for label in expected {
            assert!(text.contains(&label), "{name}: {label} not drawn");
        }
    }
    driver.clone().quit().await.unwrap();
}
