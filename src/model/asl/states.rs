//! The Amazon States Language state types, their fields, Retry and Catch.
//!
//! Fields are serialized in a fixed order (the struct order below), so a
//! workflow always produces the same bytes.

use indexmap::IndexMap;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value as Json;

use super::choice::ChoiceRule;

/// A state machine or one branch of a Parallel state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub start_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    pub states: IndexMap<String, State>,
}

impl StateMachine {
    pub fn new(start_at: impl Into<String>) -> Self {
        StateMachine {
            comment: None,
            start_at: start_at.into(),
            timeout_seconds: None,
            states: IndexMap::new(),
        }
    }

    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    pub fn timeout_seconds(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// Adds a state. Names are unique within a scope: a second state with
    /// the same name is a bug in the workflow's code, so it panics.
    pub fn state(mut self, name: &str, state: impl Into<State>) -> Self {
        let previous = self.states.insert(name.to_owned(), state.into());
        assert!(previous.is_none(), "state {name} defined twice");
        self
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("workflows always serialize");
        text.push('\n');
        text
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    Task(Task),
    Choice(Choice),
    Parallel(Parallel),
    Pass(Pass),
    Wait(Wait),
    Succeed(Succeed),
    Fail(Fail),
}

macro_rules! into_state {
    ($($t:ident),*) => {$(
        impl From<$t> for State {
            fn from(s: $t) -> Self {
                State::$t(s)
            }
        }
    )*};
}
into_state!(Task, Choice, Parallel, Pass, Wait, Succeed, Fail);

/// Where a state goes next: `"Next": name` or `"End": true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Transition::Next(name) => map.serialize_entry("Next", name)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

/// A `ResultPath`/`InputPath`/`OutputPath` value: a reference path, or `null`
/// (discard the result / pass `{}` on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Path {
    At(String),
    Null,
}

impl Serialize for Path {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Path::At(path) => serializer.serialize_str(path),
            Path::Null => serializer.serialize_unit(),
        }
    }
}

impl From<&str> for Path {
    fn from(path: &str) -> Self {
        Path::At(path.to_owned())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u32,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    /// `FULL` spreads the retries of concurrent executions apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<&'static str>,
}

impl Retrier {
    /// Exponential back-off with full jitter, the right default for
    /// throttling and transient service errors.
    pub fn backoff<E: Into<String>>(
        errors: impl IntoIterator<Item = E>,
        interval_seconds: u32,
        max_attempts: u32,
    ) -> Self {
        Retrier {
            error_equals: errors.into_iter().map(Into::into).collect(),
            interval_seconds,
            max_attempts,
            backoff_rate: 2.0,
            max_delay_seconds: Some(30),
            jitter_strategy: Some("FULL"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Path>,
    pub next: String,
}

impl Catcher {
    pub fn new<E: Into<String>>(
        errors: impl IntoIterator<Item = E>,
        result_path: &str,
        next: &str,
    ) -> Self {
        Catcher {
            error_equals: errors.into_iter().map(Into::into).collect(),
            result_path: Some(Path::from(result_path)),
            next: next.to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Task {
    /// A task on `resource`; it ends the machine until [`Task::next`] says otherwise.
    pub fn new(resource: impl Into<String>, parameters: Json) -> Self {
        Task {
            comment: None,
            resource: resource.into(),
            input_path: None,
            parameters: Some(parameters),
            result_selector: None,
            result_path: None,
            output_path: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition: Transition::End,
        }
    }

    pub fn result_selector(mut self, selector: Json) -> Self {
        self.result_selector = Some(selector);
        self
    }

    pub fn timeout_seconds(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    pub fn heartbeat_seconds(mut self, seconds: u32) -> Self {
        self.heartbeat_seconds = Some(seconds);
        self
    }

    pub fn retry(mut self, retrier: Retrier) -> Self {
        self.retry.push(retrier);
        self
    }

    pub fn catch(mut self, catcher: Catcher) -> Self {
        self.catch.push(catcher);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub choices: Vec<ChoiceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl Choice {
    pub fn new(choices: Vec<ChoiceRule>) -> Self {
        Choice {
            comment: None,
            choices,
            default: None,
        }
    }

    pub fn default(mut self, next: &str) -> Self {
        self.default = Some(next.to_owned());
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parallel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub branches: Vec<StateMachine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Path>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Parallel {
    pub fn new(branches: Vec<StateMachine>) -> Self {
        Parallel {
            comment: None,
            branches,
            parameters: None,
            result_selector: None,
            result_path: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition: Transition::End,
        }
    }

    pub fn catch(mut self, catcher: Catcher) -> Self {
        self.catch.push(catcher);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Path>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Pass {
    /// A Pass state that stores `parameters` (a payload template) at `result_path`.
    pub fn parameters(parameters: Json, result_path: &str) -> Self {
        Pass {
            comment: None,
            parameters: Some(parameters),
            result: None,
            result_path: Some(Path::from(result_path)),
            transition: Transition::End,
        }
    }

    /// A Pass state that stores a fixed `result` at `result_path`.
    pub fn result(result: Json, result_path: &str) -> Self {
        Pass {
            comment: None,
            parameters: None,
            result: Some(result),
            result_path: Some(Path::from(result_path)),
            transition: Transition::End,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub seconds: u32,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Wait {
    pub fn for_seconds(seconds: u32) -> Self {
        Wait {
            comment: None,
            seconds,
            transition: Transition::End,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Succeed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
}

impl Succeed {
    pub fn new(comment: &str) -> Self {
        Succeed {
            comment: Some(comment.to_owned()),
            output_path: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub error: String,
    pub cause: String,
}

impl Fail {
    pub fn new(error: &str, cause: &str) -> Self {
        Fail {
            comment: None,
            error: error.to_owned(),
            cause: cause.to_owned(),
        }
    }
}

/// The builder methods every state with these fields shares.
macro_rules! common_builders {
    ($($t:ident),*) => {$(
        impl $t {
            pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
                self.comment = Some(comment.into());
                self
            }
        }
    )*};
}
common_builders!(Task, Choice, Parallel, Pass, Wait, Succeed, Fail);

macro_rules! transition_builders {
    ($($t:ident),*) => {$(
        impl $t {
            pub fn next(mut self, state: &str) -> Self {
                self.transition = Transition::Next(state.to_owned());
                self
            }

            pub fn end(mut self) -> Self {
                self.transition = Transition::End;
                self
            }
        }
    )*};
}
transition_builders!(Task, Parallel, Pass, Wait);

macro_rules! result_path_builder {
    ($($t:ident),*) => {$(
        impl $t {
            /// Where the state's result goes in its input; `None` discards it.
            pub fn result_path(mut self, path: Option<&str>) -> Self {
                self.result_path = Some(path.map_or(Path::Null, Path::from));
                self
            }
        }
    )*};
}
result_path_builder!(Task, Parallel, Pass);

impl State {
    /// The states this state can go to, with the field that names each.
    pub fn targets(&self) -> Vec<(&'static str, &str)> {
        fn transition(t: &Transition) -> Option<(&'static str, &str)> {
            match t {
                Transition::Next(name) => Some(("Next", name.as_str())),
                Transition::End => None,
            }
        }
        fn catches(c: &[Catcher]) -> impl Iterator<Item = (&'static str, &str)> {
            c.iter().map(|c| ("Catch.Next", c.next.as_str()))
        }
        match self {
            State::Task(s) => transition(&s.transition)
                .into_iter()
                .chain(catches(&s.catch))
                .collect(),
            State::Parallel(s) => transition(&s.transition)
                .into_iter()
                .chain(catches(&s.catch))
                .collect(),
            State::Pass(s) => transition(&s.transition).into_iter().collect(),
            State::Wait(s) => transition(&s.transition).into_iter().collect(),
            State::Choice(s) => s
                .choices
                .iter()
                .map(|rule| ("Choices.Next", rule.next.as_str()))
                .chain(s.default.as_deref().map(|d| ("Default", d)))
                .collect(),
            State::Succeed(_) | State::Fail(_) => Vec::new(),
        }
    }

    /// Whether the machine can stop in this state.
    pub fn is_terminal(&self) -> bool {
        match self {
            State::Succeed(_) | State::Fail(_) => true,
            State::Task(Task { transition, .. })
            | State::Parallel(Parallel { transition, .. })
            | State::Pass(Pass { transition, .. })
            | State::Wait(Wait { transition, .. }) => *transition == Transition::End,
            State::Choice(_) => false,
        }
    }
}
