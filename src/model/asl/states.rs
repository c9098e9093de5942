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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
    pub choices: Vec<ChoiceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl Choice {
    pub fn new(choices: Vec<ChoiceRule>) -> Self {
        Choice {
            comment: None,
            input_path: None,
            output_path: None,
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
    pub input_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
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
            input_path: None,
            parameters: None,
            result_selector: None,
            result_path: None,
            output_path: None,
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
    pub input_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Pass {
    /// A Pass state that stores `parameters` (a payload template) at `result_path`.
    pub fn parameters(parameters: Json, result_path: &str) -> Self {
        Pass {
            comment: None,
            input_path: None,
            parameters: Some(parameters),
            result: None,
            result_path: Some(Path::from(result_path)),
            output_path: None,
            transition: Transition::End,
        }
    }

    /// A Pass state that stores a fixed `result` at `result_path`.
    pub fn result(result: Json, result_path: &str) -> Self {
        Pass {
            comment: None,
            input_path: None,
            parameters: None,
            result: Some(result),
            result_path: Some(Path::from(result_path)),
            output_path: None,
            transition: Transition::End,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<Path>,
    #[serde(flatten)]
    pub duration: WaitDuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
    #[serde(flatten)]
    pub transition: Transition,
}

/// How long a Wait state waits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum WaitDuration {
    Seconds(u32),
    /// A whole number of seconds read from the input.
    SecondsPath(String),
}

impl Wait {
    pub fn for_seconds(seconds: u32) -> Self {
        Wait::lasting(WaitDuration::Seconds(seconds))
    }

    /// Waits as many seconds as the input says at `path`.
    pub fn for_seconds_at(path: &str) -> Self {
        Wait::lasting(WaitDuration::SecondsPath(path.to_owned()))
    }

    fn lasting(duration: WaitDuration) -> Self {
        Wait {
            comment: None,
            input_path: None,
            duration,
            output_path: None,
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
    pub input_path: Option<Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<Path>,
}

impl Succeed {
    pub fn new(comment: &str) -> Self {
        Succeed {
            comment: Some(comment.to_owned()),
            input_path: None,
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

macro_rules! path_builders {
    ($($t:ident),*) => {$(
        impl $t {
            /// The part of the state's input it works on; `None` passes `{}`.
            pub fn input_path(mut self, path: Option<&str>) -> Self {
                self.input_path = Some(path.map_or(Path::Null, Path::from));
                self
            }

            /// The part of the state's output passed on; `None` passes `{}`.
            pub fn output_path(mut self, path: Option<&str>) -> Self {
                self.output_path = Some(path.map_or(Path::Null, Path::from));
                self
            }
        }
    )*};
}
path_builders!(Task, Choice, Parallel, Pass, Wait, Succeed);

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_task_serializes_every_field_in_asl_order() {
        let task = Task::new("arn:aws:states:::sns:publish", json!({"TopicArn": "t"}))
            .with_comment("c")
            .input_path(Some("$.in"))
            .result_selector(json!({"id.$": "$.MessageId"}))
            .result_path(Some("$.sent"))
            .output_path(Some("$"))
            .timeout_seconds(10)
            .heartbeat_seconds(5)
            .retry(Retrier::backoff(["SNS.ThrottledException"], 1, 3))
            .catch(Catcher::new(["States.ALL"], "$.error", "Failed"))
            .next("Done");
        assert_eq!(
            serde_json::to_string(&State::from(task)).unwrap(),
            concat!(
                r#"{"Type":"Task","Comment":"c","Resource":"arn:aws:states:::sns:publish","#,
                r#""InputPath":"$.in","Parameters":{"TopicArn":"t"},"ResultSelector":{"id.$":"$.MessageId"},"#,
                r#""ResultPath":"$.sent","OutputPath":"$","TimeoutSeconds":10,"HeartbeatSeconds":5,"#,
                r#""Retry":[{"ErrorEquals":["SNS.ThrottledException"],"IntervalSeconds":1,"MaxAttempts":3,"BackoffRate":2.0,"MaxDelaySeconds":30,"JitterStrategy":"FULL"}],"#,
                r#""Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Failed"}],"Next":"Done"}"#
            )
        );
    }

    #[test]
    fn null_paths_and_end_serialize_as_asl_expects() {
        let pass = Pass::result(json!(1), "$.x")
            .input_path(None)
            .output_path(None)
            .result_path(None)
            .end();
        assert_eq!(
            serde_json::to_value(State::from(pass)).unwrap(),
            json!({"Type": "Pass", "InputPath": null, "Result": 1, "ResultPath": null, "OutputPath": null, "End": true})
        );
        let wait = Wait::for_seconds(3).next("A");
        assert_eq!(
            serde_json::to_value(State::from(wait)).unwrap(),
            json!({"Type": "Wait", "Seconds": 3, "Next": "A"})
        );
        let wait = Wait::for_seconds_at("$.delay").next("A");
        assert_eq!(
            serde_json::to_value(State::from(wait)).unwrap(),
            json!({"Type": "Wait", "SecondsPath": "$.delay", "Next": "A"})
        );
    }

    #[test]
    fn terminal_states_are_recognized() {
        assert!(State::from(Succeed::default()).is_terminal());
        assert!(State::from(Fail::new("E", "c")).is_terminal());
        assert!(State::from(Pass::result(json!(1), "$").end()).is_terminal());
        assert!(!State::from(Pass::result(json!(1), "$").next("B")).is_terminal());
        assert!(!State::from(Choice::new(vec![]).default("B")).is_terminal());
    }
}
