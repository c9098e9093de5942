//! The graph every picture is: nodes, edges and groups, with what each
//! stands for and how an execution marked them.

/// Breaks `text` into lines of about 40 characters at spaces, so long
/// conditions and action lists stay readable in a picture.
pub fn wrap(text: &str) -> String {
    const WIDTH: usize = 40;
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= WIDTH => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

/// What a node stands for; it picks the shape and colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    // Workflow states, and the start and end markers.
    Start,
    End,
    Task,
    Choice,
    Parallel,
    /// Where a Parallel state's branches meet again.
    Join,
    Wait,
    Pass,
    Succeed,
    Fail,
    // Stack resources.
    Bus,
    Rule,
    Queue,
    DeadLetterQueue,
    Function,
    FunctionUrl,
    Workflow,
    Table,
    Topic,
    Email,
    Schedule,
}

impl NodeKind {
    /// Its name in the picture's legend and in DOT/Mermaid comments.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Start => "start",
            NodeKind::End => "end",
            NodeKind::Task => "Task",
            NodeKind::Choice => "Choice",
            NodeKind::Parallel => "Parallel",
            NodeKind::Join => "join",
            NodeKind::Wait => "Wait",
            NodeKind::Pass => "Pass",
            NodeKind::Succeed => "Succeed",
            NodeKind::Fail => "Fail",
            NodeKind::Bus => "event bus",
            NodeKind::Rule => "rule",
            NodeKind::Queue => "queue",
            NodeKind::DeadLetterQueue => "dead-letter queue",
            NodeKind::Function => "function",
            NodeKind::FunctionUrl => "function URL",
            NodeKind::Workflow => "workflow",
            NodeKind::Table => "table",
            NodeKind::Topic => "topic",
            NodeKind::Email => "email",
            NodeKind::Schedule => "schedule",
        }
    }
}

/// How an edge came to be; it picks the line style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`, `End`, the start, or a resource's ordinary flow.
    Next,
    /// A Choice rule, labelled with its condition.
    Choice,
    /// A Choice state's `Default`.
    Default,
    /// A `Catch`, labelled with the errors it catches.
    Catch,
    /// Into a Parallel branch, or out of it to the join.
    Branch,
    /// Where failures go: dead letters, failed batches.
    Failure,
}

/// What an execution did to a node or an edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mark {
    #[default]
    None,
    /// The execution went through it.
    Entered,
    /// The execution failed in this state.
    Failed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique in the graph: a state's name, a resource's logical id.
    pub id: String,
    pub label: String,
    pub kind: NodeKind,
    /// A second line: a task's service call, its retries, a table's key.
    pub detail: Option<String>,
    pub mark: Mark,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
    pub kind: EdgeKind,
    pub mark: Mark,
}

/// Nodes drawn together: one branch of a Parallel state.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub label: String,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub groups: Vec<Group>,
}

impl Graph {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The nodes in no group, in order (the groups draw their own).
    pub fn ungrouped_nodes(&self) -> impl Iterator<Item = &Node> {
        let grouped: std::collections::HashSet<&str> = self
            .groups
            .iter()
            .flat_map(|g| g.members.iter().map(String::as_str))
            .collect();
        self.nodes
            .iter()
            .filter(move |n| !grouped.contains(n.id.as_str()))
    }

    pub(super) fn add_node(
        &mut self,
        id: &str,
        label: &str,
        kind: NodeKind,
        detail: Option<String>,
    ) {
        self.nodes.push(Node {
            id: id.to_owned(),
            label: label.to_owned(),
            kind,
            detail,
            mark: Mark::None,
        });
    }

    pub(super) fn add_edge(&mut self, from: &str, to: &str, kind: EdgeKind, label: Option<String>) {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            label,
            kind,
            mark: Mark::None,
        });
    }
}
