//! A [`Graph`] as text (DOT for Graphviz, Mermaid for Markdown viewers)
//! or as an SVG picture laid out by layout-rs.
//!
//! DOT and Mermaid keep everything: ids, groups (Parallel branches as
//! clusters/subgraphs), labels and marks. The SVG shows the same nodes and
//! edges; layout-rs draws no clusters, so a branch is shown by its
//! `branch N` edge. Every SVG node and edge carries `data-` attributes
//! (id, kind, mark) so tests and tools can read the picture back.

use std::fmt::Write as _;

use clap::ValueEnum;
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::model::{EdgeKind, Graph, Mark, Node, NodeKind};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A picture, laid out by invctl (no Graphviz needed)
    #[default]
    Svg,
    /// Graphviz source
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown)
    Mermaid,
}

impl Format {
    /// The format a file name asks for: `.svg`, `.dot`/`.gv`,
    /// `.mmd`/`.mermaid`; `None` for any other name (an SVG written to
    /// `run.png` would only mislead).
    pub fn for_path(path: &std::path::Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => Some(Format::Svg),
            Some("dot" | "gv") => Some(Format::Dot),
            Some("mmd" | "mermaid") => Some(Format::Mermaid),
            _ => None,
        }
    }
}

pub fn render(graph: &Graph, format: Format) -> String {
    match format {
        Format::Svg => svg(graph),
        Format::Dot => dot(graph),
        Format::Mermaid => mermaid(graph),
    }
}

/// Fill colour of a node of `kind`, and the colours of the marks.
fn fill(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Start | NodeKind::End | NodeKind::Join => "#eeeeee",
        NodeKind::Task | NodeKind::Function => "#dbe9ff",
        NodeKind::Choice | NodeKind::Rule => "#fff4c2",
        NodeKind::Parallel | NodeKind::Workflow => "#eadcff",
        NodeKind::Wait | NodeKind::Pass | NodeKind::Schedule => "#f2f2f2",
        NodeKind::Succeed => "#d7f5d7",
        NodeKind::Fail | NodeKind::DeadLetterQueue => "#ffd9d6",
        NodeKind::Bus | NodeKind::Topic | NodeKind::Email => "#ffe3c7",
        NodeKind::Queue | NodeKind::Table | NodeKind::FunctionUrl => "#d9f2ef",
    }
}

const ENTERED: &str = "#1b7f3b";
const FAILED: &str = "#c62828";

fn mark_name(mark: Mark) -> &'static str {
    match mark {
        Mark::None => "none",
        Mark::Entered => "entered",
        Mark::Failed => "failed",
    }
}

fn node_text(node: &Node) -> String {
    match &node.detail {
        Some(detail) => format!("{}\n{detail}", node.label),
        None => node.label.clone(),
    }
}

fn dashed(kind: EdgeKind) -> bool {
    matches!(kind, EdgeKind::Catch | EdgeKind::Failure)
}

// ---- DOT ------------------------------------------------------------------

fn dot_quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn dot_node(node: &Node) -> String {
    let shape = match node.kind {
        NodeKind::Start => "circle",
        NodeKind::End => "doublecircle",
        NodeKind::Choice => "diamond",
        NodeKind::Join => "point",
        NodeKind::Table => "cylinder",
        NodeKind::Queue | NodeKind::DeadLetterQueue => "cds",
        NodeKind::Email => "note",
        _ => "box",
    };
    let mut attributes = format!(
        "label={}, shape={shape}, style=\"rounded,filled\", fillcolor=\"{}\"",
        dot_quote(&node_text(node)),
        fill(node.kind)
    );
    match node.mark {
        Mark::None => {}
        Mark::Entered => write!(attributes, ", color=\"{ENTERED}\", penwidth=3").unwrap(),
        Mark::Failed => write!(
            attributes,
            ", color=\"{FAILED}\", penwidth=3, fillcolor=\"#ffb3ad\""
        )
        .unwrap(),
    }
    format!(
        "  {} [{attributes}]; // {}\n",
        dot_quote(&node.id),
        node.kind.as_str()
    )
}

pub fn dot(graph: &Graph) -> String {
    let mut out = format!("digraph {} {{\n", dot_quote(&graph.title));
    writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"Helvetica\", rankdir=TB];",
        dot_quote(&graph.title)
    )
    .unwrap();
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for node in graph.ungrouped_nodes() {
        out.push_str(&dot_node(node));
    }
    for (index, group) in graph.groups.iter().enumerate() {
        writeln!(out, "  subgraph \"cluster_{index}\" {{").unwrap();
        writeln!(out, "    label={}; style=dashed;", dot_quote(&group.label)).unwrap();
        for node in group.members.iter().filter_map(|id| graph.node(id)) {
            out.push_str("  ");
            out.push_str(&dot_node(node));
        }
        out.push_str("  }\n");
    }
    for edge in &graph.edges {
        let mut attributes = Vec::new();
        if let Some(label) = &edge.label {
            attributes.push(format!("label={}", dot_quote(label)));
        }
        if dashed(edge.kind) {
            attributes.push("style=dashed".to_owned());
        }
        if edge.mark != Mark::None {
            attributes.push(format!("color=\"{ENTERED}\", penwidth=3"));
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        writeln!(
            out,
            "  {} -> {}{attributes};",
            dot_quote(&edge.from),
            dot_quote(&edge.to)
        )
        .unwrap();
    }
    out.push_str("}\n");
    out
}

// ---- Mermaid ----------------------------------------------------------------

/// Mermaid text inside `"..."`: quotes and angle brackets as entities,
/// line breaks as `<br/>`.
fn mermaid_text(text: &str) -> String {
    text.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', "<br/>")
}

pub fn mermaid(graph: &Graph) -> String {
    let ids: std::collections::HashMap<&str, String> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), format!("n{i}")))
        .collect();
    // The title is YAML front matter: quoted, since titles hold colons.
    let mut out = format!(
        "---\ntitle: {}\n---\nflowchart TD\n",
        serde_json::to_string(&graph.title).expect("a string serializes")
    );
    let node_line = |node: &Node| {
        let text = format!("\"{}\"", mermaid_text(&node_text(node)));
        let shape = match node.kind {
            NodeKind::Start | NodeKind::End => format!("(({text}))"),
            NodeKind::Choice => format!("{{{text}}}"),
            NodeKind::Join => format!("(({text}))"),
            NodeKind::Succeed | NodeKind::Fail => format!("([{text}])"),
            NodeKind::Table => format!("[({text})]"),
            NodeKind::Queue | NodeKind::DeadLetterQueue => format!("[/{text}/]"),
            _ => format!("[{text}]"),
        };
        format!("{}{shape}", ids[node.id.as_str()])
    };
    for node in graph.ungrouped_nodes() {
        writeln!(out, "  {}", node_line(node)).unwrap();
    }
    for (index, group) in graph.groups.iter().enumerate() {
        writeln!(
            out,
            "  subgraph g{index}[\"{}\"]",
            mermaid_text(&group.label)
        )
        .unwrap();
        for node in group.members.iter().filter_map(|id| graph.node(id)) {
            writeln!(out, "    {}", node_line(node)).unwrap();
        }
        out.push_str("  end\n");
    }
    for edge in &graph.edges {
        let arrow = if dashed(edge.kind) { "-.->" } else { "-->" };
        let label = edge
            .label
            .as_ref()
            .map(|l| format!("|\"{}\"|", mermaid_text(l)))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {arrow}{label} {}",
            ids[edge.from.as_str()],
            ids[edge.to.as_str()]
        )
        .unwrap();
    }
    for (kind, _) in KIND_CLASSES {
        let members: Vec<&str> = graph
            .nodes
            .iter()
            .filter(|n| n.kind.as_str() == *kind && n.mark == Mark::None)
            .map(|n| ids[n.id.as_str()].as_str())
            .collect();
        if !members.is_empty() {
            writeln!(out, "  class {} {};", members.join(","), class_name(kind)).unwrap();
        }
    }
    for (mark, colour, fill) in [
        (Mark::Entered, ENTERED, "#d7f5d7"),
        (Mark::Failed, FAILED, "#ffb3ad"),
    ] {
        let members: Vec<&str> = graph
            .nodes
            .iter()
            .filter(|n| n.mark == mark)
            .map(|n| ids[n.id.as_str()].as_str())
            .collect();
        if !members.is_empty() {
            writeln!(
                out,
                "  classDef {} fill:{fill},stroke:{colour},stroke-width:3px;",
                mark_name(mark)
            )
            .unwrap();
            writeln!(out, "  class {} {};", members.join(","), mark_name(mark)).unwrap();
        }
    }
    let taken: Vec<String> = graph
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.mark != Mark::None)
        .map(|(i, _)| i.to_string())
        .collect();
    if !taken.is_empty() {
        writeln!(
            out,
            "  linkStyle {} stroke:{ENTERED},stroke-width:3px;",
            taken.join(",")
        )
        .unwrap();
    }
    let mut defined = String::new();
    for (kind, node_kind) in KIND_CLASSES {
        if graph.nodes.iter().any(|n| n.kind == *node_kind) {
            writeln!(
                defined,
                "  classDef {} fill:{};",
                class_name(kind),
                fill(*node_kind)
            )
            .unwrap();
        }
    }
    out.push_str(&defined);
    out
}

/// Node kinds with a Mermaid class of their own, in a fixed order.
const KIND_CLASSES: &[(&str, NodeKind)] = &[
    ("start", NodeKind::Start),
    ("end", NodeKind::End),
    ("Task", NodeKind::Task),
    ("Choice", NodeKind::Choice),
    ("Parallel", NodeKind::Parallel),
    ("join", NodeKind::Join),
    ("Wait", NodeKind::Wait),
    ("Pass", NodeKind::Pass),
    ("Succeed", NodeKind::Succeed),
    ("Fail", NodeKind::Fail),
    ("event bus", NodeKind::Bus),
    ("rule", NodeKind::Rule),
    ("queue", NodeKind::Queue),
    ("dead-letter queue", NodeKind::DeadLetterQueue),
    ("function", NodeKind::Function),
    ("function URL", NodeKind::FunctionUrl),
    ("workflow", NodeKind::Workflow),
    ("table", NodeKind::Table),
    ("topic", NodeKind::Topic),
    ("email", NodeKind::Email),
    ("schedule", NodeKind::Schedule),
];

fn class_name(kind: &str) -> String {
    format!("k_{}", kind.replace([' ', '-'], "_").to_lowercase())
}

// ---- SVG ----------------------------------------------------------------------

const FONT_SIZE: usize = 14;

fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn svg(graph: &Graph) -> String {
    let orientation = Orientation::TopToBottom;
    let mut visual = VisualGraph::new(orientation);
    let mut handles = std::collections::HashMap::new();
    for node in &graph.nodes {
        let text = node_text(node);
        let shape = match node.kind {
            NodeKind::Start | NodeKind::Join => ShapeKind::Circle(text),
            NodeKind::End => ShapeKind::DoubleCircle(text),
            _ => ShapeKind::Box(text),
        };
        let (line, width, fill_colour) = match node.mark {
            Mark::None => ("#555555", 1, fill(node.kind)),
            Mark::Entered => (ENTERED, 4, fill(node.kind)),
            Mark::Failed => (FAILED, 4, "#ffb3ad"),
        };
        let rounded = match node.kind {
            NodeKind::Choice | NodeKind::Rule => 0,
            _ => 8,
        };
        let look = StyleAttr::new(
            Color::fast(line),
            width,
            Some(Color::fast(fill_colour)),
            rounded,
            FONT_SIZE,
        );
        let size =
            layout::std_shapes::render::get_shape_size(orientation, &shape, FONT_SIZE, false);
        let properties = format!(
            "data-id=\"{}\" data-kind=\"{}\" data-mark=\"{}\"",
            attribute(&node.id),
            attribute(node.kind.as_str()),
            mark_name(node.mark)
        );
        let element = Element::create_with_properties(shape, look, orientation, size, properties);
        handles.insert(node.id.as_str(), visual.add_node(element));
    }
    for edge in &graph.edges {
        let (Some(from), Some(to)) = (
            handles.get(edge.from.as_str()),
            handles.get(edge.to.as_str()),
        ) else {
            continue;
        };
        let colour = if edge.mark == Mark::None {
            "#555555"
        } else {
            ENTERED
        };
        let look = StyleAttr::new(
            Color::fast(colour),
            if edge.mark == Mark::None { 1 } else { 3 },
            None,
            0,
            FONT_SIZE,
        );
        let style = if dashed(edge.kind) {
            LineStyleKind::Dashed
        } else {
            LineStyleKind::Normal
        };
        let properties = format!(
            "data-from=\"{}\" data-to=\"{}\" data-mark=\"{}\"",
            attribute(&edge.from),
            attribute(&edge.to),
            mark_name(edge.mark)
        );
        let arrow = Arrow::with_properties(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            edge.label.as_deref().unwrap_or_default(),
            &look,
            properties,
            &None,
            &None,
        );
        visual.add_edge(arrow, *from, *to);
    }
    let mut writer = SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    let drawn = writer.finalize();
    // A title for viewers and screen readers, and a sans-serif font.
    let drawn = drawn.replacen(
        "xmlns=\"http://www.w3.org/2000/svg\">\n",
        &format!(
            "xmlns=\"http://www.w3.org/2000/svg\">\n<title>{}</title>\n",
            attribute(&graph.title)
        ),
        1,
    );
    let drawn = drawn.replace(
        "font-family: Times, serif;",
        "font-family: Helvetica, Arial, sans-serif;",
    );
    sort_style_rules(&drawn)
}

/// layout-rs writes one style rule per font size from a hash map, in no
/// fixed order: sorted, the same graph gives the same bytes.
fn sort_style_rules(svg: &str) -> String {
    let (Some(start), Some(end)) = (svg.find("<style>\n"), svg.find("</style>")) else {
        return svg.to_owned();
    };
    let body = start + "<style>\n".len();
    if end < body {
        return svg.to_owned();
    }
    let mut rules: Vec<&str> = svg[body..end].lines().collect();
    rules.sort_unstable();
    let mut sorted = String::with_capacity(svg.len());
    sorted.push_str(&svg[..body]);
    for rule in rules {
        sorted.push_str(rule);
        sorted.push('\n');
    }
    sorted.push_str(&svg[end..]);
    sorted
}
